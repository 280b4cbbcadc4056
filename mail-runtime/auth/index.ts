export type { AuthContext, Directory, DirectoryUser, PasswordVerifier, Quota } from './types';
export { normalizeAddress } from './types';
export { hashPassword, verifyPassword, isPasswordHash, DEFAULT_SCRYPT, type ScryptParams } from './password';
export { FileDirectory, StaticDirectory, parseUsersFile, usersFileSchema, type UsersFile, type FileDirectoryOptions } from './file-directory';
export { LoginLimiter, loginLimiterOptions, sleep, type CheckPriority, type LoginLimiterOptions, type LoginVerdict } from './limiter';
export { MemoryLoginHistory, type HistoryQuery, type KeyHistory, type LoginHistory } from './login-history';
export { PasswordCheckPool, PasswordChecksBusy, passwordCheckOptions, type PasswordCheckOptions } from './password-checks';
export { decodeSaslPlain, encodeSaslPlain, type PlainCredentials, type PlainResult } from './sasl';
export { Authenticator, type AuthenticatorOptions, type LoginOutcome } from './authenticator';
