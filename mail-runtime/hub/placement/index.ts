export { PlacementManager } from './manager';
