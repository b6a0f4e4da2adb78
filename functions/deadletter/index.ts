/** deadletter/index — wiring: accepts every type (a dead-letter sink must lose nothing). */
import { ANY_TYPE, defineFunction, noConfig } from '../_kit/index.js';
import { handle } from './handler.js';

const deadletter = defineFunction({
  name: 'deadletter',
  accepts: [{ type: ANY_TYPE, schema: null }],
  configure: noConfig,
  handle,
});
export default deadletter;
