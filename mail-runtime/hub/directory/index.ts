export { DirectoryStore, type DirectoryChange } from './store';
export { importUsers, csvFields, type ImportFormat } from './import';
