export { PlacementManager, needsProposal, type PlacementMembers } from './manager';
