/**
 * `node --import ./test/wire/record-loads.mjs …`: appends the URL of every module the process
 * loads to the file $REFLEX_TEST_LOADS, so a test can say what a function never loaded.
 */
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const file = process.env['REFLEX_TEST_LOADS'];
if (file)
  registerHooks({
    load(url, context, next) {
      appendFileSync(file, `${url}\n`);
      return next(url, context);
    },
  });
