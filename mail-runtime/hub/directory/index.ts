export { DirectoryStore, type DirectoryChange, type DirectoryOptions, type ImportSession, type StoredUser } from './store';
export { importUsers, csvFields, IMPORT_BATCH_ROWS, type ImportFormat, type ImportOutcome } from './import';
