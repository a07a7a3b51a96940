import { parseArgs } from 'util';
import { runCourse } from '../course';
import { settingsFromCli } from '../settings';

export const command = {
  summary: 'run the whole course pipeline (the main job); last stdout line: one JSON object',
  async run(argv: string[]): Promise<void> {
    const { values } = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, set: { type: 'string', multiple: true } },
    });
    const settings = settingsFromCli({ config: values.config, set: values.set });
    const result = await runCourse(settings);
    console.log(JSON.stringify(result));
  },
};
