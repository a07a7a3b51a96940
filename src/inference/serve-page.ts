// The demo page `nlpbook serve` shows at `/`: one self-contained HTML file (no files to
// fetch, works offline) in Korean. A text box and example sentences; the answer of
// POST api/predict as 긍정/부정, the positive probability and a bar. The script only
// calls the API and fills elements with textContent (never innerHTML), and the page's
// Content-Security-Policy allows exactly this inline script (by its hash) and nothing
// else to run.
import * as crypto from 'crypto';

/** Sentences the page offers to click (new ones, not from NSMC). */
export const EXAMPLE_SENTENCES = [
  '배우들 연기가 정말 최고였다. 또 보고 싶다',
  '시간이 아까운 영화... 돈 주고 보기 아깝다',
  '그냥 그랬어요',
  '스토리는 뻔했지만 음악이 좋아서 끝까지 봤다',
  '이걸 돈 받고 만들었다니 ㅋㅋ',
];

const SCRIPT = String.raw`
const $ = (id) => document.getElementById(id);
const NAMES = { positive: '긍정', negative: '부정' };
const text = $('text');
const button = $('go');

async function analyze() {
  $('error').textContent = '';
  if (!text.value.trim()) {
    $('error').textContent = '문장을 입력하세요.';
    return;
  }
  button.disabled = true;
  $('status').textContent = '분석 중…';
  try {
    const res = await fetch('api/predict', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: text.value }),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || 'HTTP ' + res.status);
    show(body);
    $('status').textContent = '';
  } catch (e) {
    $('status').textContent = '';
    $('error').textContent = '요청을 처리하지 못했습니다: ' + e.message;
  } finally {
    button.disabled = false;
  }
}

function show(r) {
  const percent = (r.positive_prob * 100).toFixed(1) + '%';
  $('result').hidden = false;
  $('result').dataset.label = r.label;
  $('label').textContent = NAMES[r.label] || r.label;
  $('prob').textContent = percent;
  $('bar').style.width = percent;
  $('analyzed').textContent = r.text;
  $('ms').textContent = r.ms.toFixed(1) + ' ms';
}

$('form').addEventListener('submit', (e) => { e.preventDefault(); analyze(); });
text.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); analyze(); }
});
for (const b of document.querySelectorAll('.example')) {
  b.addEventListener('click', () => { text.value = b.textContent; analyze(); });
}
`;

const STYLE = `
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, 'NanumGothic', 'Noto Sans KR', sans-serif; background: #f5f6f8; color: #1d2330; }
main { max-width: 640px; margin: 40px auto; padding: 0 16px; }
h1 { font-size: 1.5rem; margin-bottom: 4px; }
.lead { color: #5a6272; margin-top: 0; }
textarea { width: 100%; min-height: 96px; padding: 12px; font: inherit; font-size: 1.05rem; border: 1px solid #c8cdd6; border-radius: 8px; resize: vertical; }
.row { display: flex; gap: 12px; align-items: center; margin-top: 8px; }
button { font: inherit; cursor: pointer; border-radius: 8px; }
#go { padding: 8px 20px; border: 0; background: #2f5bea; color: white; font-weight: 600; }
#go:disabled { background: #8fa3e6; cursor: wait; }
.hint, #status { color: #5a6272; font-size: 0.9rem; }
.examples { margin: 16px 0; display: flex; flex-wrap: wrap; gap: 6px; }
.example { padding: 4px 10px; border: 1px solid #c8cdd6; background: white; font-size: 0.9rem; }
.example:hover { border-color: #2f5bea; }
#error { color: #b3261e; min-height: 1.2em; }
#result { background: white; border-radius: 12px; padding: 16px 20px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
#label { font-size: 2rem; font-weight: 700; }
#result[data-label=positive] #label { color: #1a7f37; }
#result[data-label=negative] #label { color: #b3261e; }
.track { height: 14px; background: #f0d4d2; border-radius: 7px; overflow: hidden; margin: 8px 0; }
#bar { height: 100%; width: 0; background: #1a7f37; transition: width .3s; }
#analyzed { color: #5a6272; word-break: break-all; }
footer { margin-top: 32px; color: #8a91a0; font-size: 0.8rem; }
code { background: #e8eaef; padding: 1px 4px; border-radius: 4px; }
`;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page's HTML and the Content-Security-Policy header that goes with it. */
export function demoPage(options: { maxTextChars: number }): { html: string; csp: string } {
  const examples = EXAMPLE_SENTENCES.map((s) => `<button type="button" class="example">${escapeHtml(s)}</button>`).join('\n      ');
  const html = `<!doctype html>
<html lang="ko">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>영화 리뷰 감성 분석 · nlpbook</title>
  <style>${STYLE}</style>
</head>
<body>
  <main>
    <h1>영화 리뷰 감성 분석</h1>
    <p class="lead">문장을 입력하면 NSMC로 미세 조정한 BERT가 긍정인지 부정인지 판단합니다.</p>
    <form id="form">
      <textarea id="text" maxlength="${options.maxTextChars}" placeholder="영화 리뷰 한 문장을 입력하세요" autofocus></textarea>
      <div class="row">
        <button id="go" type="submit">분석하기</button>
        <span class="hint">Ctrl+Enter로도 분석합니다</span>
        <span id="status"></span>
      </div>
    </form>
    <div class="examples">
      <span class="hint">예시:</span>
      ${examples}
    </div>
    <p id="error" role="alert"></p>
    <section id="result" hidden aria-live="polite">
      <div id="label"></div>
      <div>긍정 확률 <strong id="prob"></strong></div>
      <div class="track"><div id="bar"></div></div>
      <div id="analyzed"></div>
      <div class="hint">추론 시간 <span id="ms"></span></div>
    </section>
    <footer>API: <code>POST /api/predict</code> <code>{"text": "..."}</code> → <code>{"label", "positive_prob", "logits", ...}</code></footer>
  </main>
  <script>${SCRIPT}</script>
</body>
</html>
`;
  const hash = crypto.createHash('sha256').update(SCRIPT).digest('base64');
  const csp = `default-src 'none'; script-src 'sha256-${hash}'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'`;
  return { html, csp };
}
