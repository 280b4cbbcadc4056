export { reply, formatReply, parseReplyLine, isPermanent, COMMON_REPLIES } from './reply';
export { SMTP_LIMITS } from './limits';
export { parseHeader, fieldsNamed, fieldValue, withFields, type HeaderField } from './message';
export { receivedField, returnPathField, rfc5322Date, newMessageId } from './trace';
export { JUNK_HINT, takeFolderHint } from './folder-hint';
export { deliveryIdLine, takeDeliveryId } from './delivery-id';
export { serveSmtp, type SmtpListener, type PhaseContext, type Credentials, type AuthVerdict } from './server';
