/**
 * Entry of the self-contained bundle used on machines without npm (a lent GPU box): tfjs-core's
 * gradients are bundled statically, everything else goes through the normal CLI.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { main } from '../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
