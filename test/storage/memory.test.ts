import { createMemoryStorage } from '../../src/storage/memory/adapter.js';
import { runStorageContract } from './contract.js';

runStorageContract('memory', async () => ({ storage: createMemoryStorage(), cleanup: async () => {} }));
