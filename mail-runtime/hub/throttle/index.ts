export { LoginFailureBoard } from './board';
