// The open twin of bench/apis/mcp-bench.mjs (one module, one server).
import { servers } from './mcp-bench.mjs';

export default servers[1];
