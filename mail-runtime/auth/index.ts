export type { AuthContext, Directory, DirectoryUser, Quota } from './types';
export { normalizeAddress } from './types';
export { hashPassword, verifyPassword, isPasswordHash, DEFAULT_SCRYPT, type ScryptParams } from './password';
export { FileDirectory, StaticDirectory, parseUsersFile, usersFileSchema, type UsersFile, type FileDirectoryOptions } from './file-directory';
export { LoginLimiter, sleep, type LoginLimiterOptions, type LoginVerdict } from './limiter';
export { decodeSaslPlain, encodeSaslPlain, type PlainCredentials, type PlainResult } from './sasl';
export { Authenticator, type LoginOutcome } from './authenticator';
