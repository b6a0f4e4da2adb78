/** deadletter/index — wiring: accepts every type (a dead-letter sink must lose nothing). */
import { ANY_TYPE, defineFunction, noConfig } from '../_kit/index.js';
import { deadletterHandler } from './handler.js';

const deadletter = defineFunction({
  name: 'deadletter',
  accepts: [{ type: ANY_TYPE, schema: null }],
  configure: noConfig,
  handler: deadletterHandler,
});
export default deadletter;
