/** The admin API's route table and its types; the routes live in src/admin/routes/, one file per area. */
export * from './routes/index.js';
