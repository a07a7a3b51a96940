// The notebooks' set-up line: `const course = await openCourse();`
//
// It picks the profile — the environment variable NLPBOOK_PROFILE (offline, the default;
// book; tiny, the quick look), or openCourse('tiny') — prints which profile and model the
// notebook runs with, and hands out each step's result: found on disk and reused (and
// said so), or computed now, after saying how long that takes on this machine. The
// lessons stay in the notebooks; only this plumbing lives here (course-path.ts has the
// logic, shared with `nlpbook course`).
import { initBackend } from '../util/backend';
import {
  courseCorpus, courseFineTuned, coursePlan, coursePretrained, checkProfile, fineTunedReady, finishedPretraining, profileFromEnv,
  PROFILE_ENV, type CoursePlan, type StageEstimate,
} from './course-path';
import type { NsmcCorpus } from '../corpus/index';
import { NlpbookError } from '../util/errors';
import type { PretrainResult, PretrainSettings } from '../pretrain/index';
import type { ProfileName } from './profiles';
import type { Settings } from '../settings/index';
import { BertTokenizer } from '../tokenizer/index';
import { lastDir, readTrainerState, type FitResult } from '../train/index';

/** What each profile means, in the course's words. */
const PROFILE_WORDS: Record<ProfileName, string> = {
  offline: 'kcbert-base의 어휘로 작은 BERT를 직접 사전학습(3a단계)하고 그 모델을 미세 조정합니다. 아무것도 내려받지 않습니다.',
  book: '책 그대로: 허브의 beomi/kcbert-base(가중치 438 MB)를 최대 128토큰, 배치 32, 학습률 5e-5로 3에폭 미세 조정합니다. 인터넷이 필요하고, CPU로는 몇 시간 걸립니다(GPU 권장).',
  tiny: '맛보기: 아주 작은 BERT와 NSMC 앞부분(학습 2,000 / 테스트 500문장)으로 같은 과정을 몇 초 만에 돕니다. 숫자에는 의미가 없습니다.',
};

const n = (x: number) => x.toLocaleString('en-US');
const mb = (bytes: number) => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.max(1, Math.round(bytes / 1e6))} MB`);

function say(line: string): void {
  console.log(line);
}

/** The time, disk and memory of a stage about to start, as measured on this machine. */
function estimateLine(what: string, e: StageEstimate): string {
  const speed = e.tokensPerSecond ? `초당 ${n(e.tokensPerSecond)}토큰, ${e.stepsPerSecond.toFixed(1)}스텝` : `초당 ${e.stepsPerSecond.toFixed(1)}스텝`;
  return `${what}: ${n(e.steps)}스텝, 약 ${Math.max(1, Math.round(e.minutes))}분 걸립니다 ` +
    `(이 컴퓨터에서 방금 몇 스텝을 재 본 속도: ${speed}). 디스크 약 ${mb(e.diskBytes)}, 메모리 약 ${mb(e.memoryBytes)}. ` +
    '진행 줄의 ETA가 남은 시간입니다. 중간에 멈춰도 같은 셀을 다시 실행하면 이어서 합니다.';
}

export class Course {
  private tokenizerPromise: Promise<BertTokenizer> | null = null;

  constructor(readonly plan: CoursePlan) {}

  get profile(): ProfileName {
    return this.plan.profile;
  }

  /** The fine-tuning settings of the profile (step 1's object; pretrainedModelName is step 3's model). */
  get settings(): Settings {
    return this.plan.settings;
  }

  /** The pretraining settings of the profile (null for book: it downloads kcbert-base instead). */
  get pretrainSettings(): PretrainSettings | null {
    return this.plan.pretrain;
  }

  /**
   * Step 3a's pretraining settings: the profile's; the book profile downloads kcbert-base
   * instead of pretraining, so its readers see the offline profile's (said so).
   */
  pretraining(): PretrainSettings {
    if (this.plan.pretrain) return this.plan.pretrain;
    say('book 프로필은 사전학습하지 않고 kcbert-base를 내려받습니다. 이 단계는 offline 프로필의 사전학습을 보여 줍니다.');
    return coursePlan('offline').pretrain!;
  }

  /** Step 2: NSMC, fetched cache-first (the tiny profile uses its first rows). */
  async corpus(): Promise<NsmcCorpus> {
    const c = await courseCorpus(this.plan);
    const words = c.fetched.map((f) => `${f.split} ${f.action === 'cached' ? '이미 있음(sha256 확인)' : `내려받음(${f.source})`}`);
    say(`말뭉치: ${c.fetched[0].path.replace(/[/\\][^/\\]+$/, '')} — ${words.join(', ')}`);
    if (c.slice) say(`맛보기: 학습 ${n(this.plan.slice!.train)} / 테스트 ${n(this.plan.slice!.test)}문장만 ${c.slice}에 잘라 씁니다.`);
    return c.corpus;
  }

  /** Step 4's tokenizer: kcbert-base's vocabulary, the one every profile's model uses. */
  tokenizer(): Promise<BertTokenizer> {
    this.tokenizerPromise ??= BertTokenizer.fromPretrained('beomi/kcbert-base', { modelMirror: this.settings.modelMirror });
    return this.tokenizerPromise;
  }

  /**
   * Step 3's model folder: the profile's pretrained model (reused when finished; else
   * pretrained now, after an estimate), or the book's kcbert-base with its weights.
   */
  async pretrainedModel(): Promise<string> {
    let got;
    try {
      got = await coursePretrained(this.plan, {
        log: say,
        onEstimate: (e) => say(estimateLine('사전학습 모델이 아직 없어 지금 만듭니다(3a단계와 같은 일)', e)),
        onBudget: (b) => say(
          `사전학습 모델이 아직 없어 지금 만듭니다. 전체 ${b.minutes}분 예산에서 이 컴퓨터로 잰 미세 조정 ${b.fineTuning.toFixed(1)}분, 평가 ${b.evaluation.toFixed(1)}분, ` +
            `여유 ${b.margin}분을 빼고 사전학습에 약 ${Math.round(b.pretraining)}분을 씁니다: 초당 ${n(b.tokensPerSecond)}토큰으로 ${n(b.steps)}스텝` +
            `(학습 문장 ${b.passes}바퀴). 디스크 약 ${mb(b.diskBytes)}, 메모리 약 ${mb(b.memoryBytes)}. 진행 줄의 ETA가 남은 시간입니다. 중간에 멈춰도 같은 셀을 다시 실행하면 이어서 합니다.`,
        ),
        pretrain: { tokenizer: await this.tokenizer() },
      });
    } catch (e) {
      if (this.profile === 'book' && e instanceof NlpbookError) {
        throw new NlpbookError(
          `book 프로필에 필요한 ${this.settings.pretrainedModelName}의 가중치를 구하지 못했습니다. 오프라인이라면 ${PROFILE_ENV}=offline(기본값)으로 ` +
            `실행하세요(직접 사전학습한 모델을 씁니다). 자세히: ${e.message}`,
        );
      }
      throw e;
    }
    if (got.reused && got.result) say(`사전학습 모델: ${got.model} — 재사용합니다(${pretrainedWords(got.result)}). 다시 만들려면 이 폴더를 지우세요.`);
    else if (got.reused) say(`사전학습 모델: ${this.settings.pretrainedModelName} — ${got.model}`);
    else say(`사전학습 모델을 만들었습니다: ${got.model} (${pretrainedWords(got.result!)})`);
    return got.model;
  }

  /**
   * Step 7's run: the finished fine-tuning with the profile's settings (reused as it is,
   * e.g. the one `npm start` left), else trained now after an estimate.
   */
  async fineTuned(): Promise<FitResult> {
    if (!fineTunedReady(this.plan)) await this.pretrainedModel();
    const tokenizer = await this.tokenizer();
    const got = await courseFineTuned(this.plan, {
      log: say,
      onEstimate: (e) => say(estimateLine(`미세 조정(${this.settings.epochs}에폭)을 시작합니다`, e)),
      fit: { tokenizer },
    });
    const r = got.result;
    const best = r.best ? `${r.best.epoch}에폭의 검증 정확도 ${r.best.accuracy.toFixed(4)}` : '검증 전';
    if (got.reused) {
      say(`미세 조정: ${this.settings.downstreamModelDir} — 같은 설정으로 끝난 학습을 재사용합니다(${r.epochs}에폭, ${n(r.steps)}스텝, ${r.minutes.toFixed(1)}분, ${best}). ` +
        '다시 학습하려면 이 폴더를 지우세요.');
    } else {
      say(`미세 조정을 마쳤습니다: ${r.model} (${r.epochs}에폭, ${n(r.steps)}스텝, ${r.minutes.toFixed(1)}분, ${best})`);
    }
    return r;
  }

  /** The NSMC test split's file of the profile (read once, in step 8). */
  async testFile(): Promise<string> {
    return (await this.corpus()).path('test');
  }
}

function pretrainedWords(r: PretrainResult): string {
  const acc = r.mlmAccuracy === null ? '' : `, 떼어 둔 문서의 MLM 정확도 ${r.mlmAccuracy.toFixed(3)}`;
  return `${n(r.steps)}스텝, ${r.minutes.toFixed(1)}분, 초당 ${n(r.tokensPerSecond)}토큰${acc}`;
}

/**
 * The course as the notebooks run it. `profile`: 'offline' | 'book' | 'tiny'; left out,
 * the environment variable NLPBOOK_PROFILE, else 'offline'. Prints the profile and the
 * model the notebook will use, and what is already on disk.
 */
export async function openCourse(profile?: string): Promise<Course> {
  const name = profile === undefined ? profileFromEnv() : checkProfile(profile, 'openCourse');
  await initBackend({ quiet: true });
  const course = new Course(coursePlan(name));
  const s = course.settings;
  say(`프로필: ${name} — ${PROFILE_WORDS[name]}`);
  if (course.pretrainSettings) {
    const p = course.pretrainSettings;
    const finished = finishedPretraining(course.plan);
    const done = finished?.conflicts.length === 0 ? finished.result : null;
    say(`모델: ${s.pretrainedModelName} — BERT L${p.layers}/H${p.hidden}/A${p.heads}/I${p.intermediate}, kcbert 어휘; ` +
      (done ? `사전학습 끝남(${pretrainedWords(done)})` : '아직 없음(3a단계나 npm start가 만듭니다. 필요한 셀이 만들기 전에 걸릴 시간을 알려 줍니다)'));
  } else {
    say(`모델: ${s.pretrainedModelName} (허깅페이스 허브; 미러·파이썬 캐시에 있으면 그것을 씁니다)`);
  }
  if (fineTunedReady(course.plan)) {
    const st = readTrainerState(lastDir(s.downstreamModelDir));
    say(`미세 조정 결과: ${s.downstreamModelDir}/best — 끝남(${st.epochsCompleted}에폭, 검증 정확도 ${st.best?.accuracy.toFixed(4) ?? '—'})`);
  } else {
    say(`미세 조정 결과: ${s.downstreamModelDir} — 아직 없음(7단계나 npm start가 만듭니다)`);
  }
  return course;
}

