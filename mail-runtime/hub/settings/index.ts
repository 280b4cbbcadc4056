export { SettingsStore, type SettingsChange } from './store';
