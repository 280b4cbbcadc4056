export type { AuthContext, Directory, DirectoryUser, PasswordVerifier } from './types';
export { normalizeAddress } from './types';
export { hashPassword, verifyPassword, isPasswordHash, DEFAULT_SCRYPT, type ScryptParams } from './password';
export { FileDirectory, StaticDirectory, parseUsersFile } from './file-directory';
export { LoginLimiter, loginLimiterOptions, type CheckPriority } from './limiter';
export { MemoryLoginHistory, type HistoryQuery, type KeyHistory, type LoginHistory } from './login-history';
export { PasswordCheckPool, PasswordChecksBusy, passwordCheckOptions } from './password-checks';
export { decodeSaslPlain, encodeSaslPlain } from './sasl';
export { Authenticator } from './authenticator';
