export { SmtpReplyError, reply, formatReply, parseReplyLine, isPermanent, COMMON_REPLIES } from './reply';
export { SMTP_LIMITS } from './limits';
export { readMessage, parseHeader, fieldsNamed, fieldValue, withoutFields, withFields, type HeaderBlock, type HeaderField } from './message';
export { receivedField, returnPathField, rfc5322Date, newMessageId, addressLiteral, type ReceivedInfo } from './trace';
export { FOLDER_HINT_FIELD, JUNK_HINT, takeFolderHint, type FolderHint } from './folder-hint';
export {
  serveSmtp,
  type SmtpListener,
  type SmtpListenerOptions,
  type SmtpPhases,
  type PhaseContext,
  type SmtpConnectionState,
  type Credentials,
  type AuthVerdict,
} from './server';
