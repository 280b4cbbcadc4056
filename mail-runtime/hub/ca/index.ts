export { CertificateRequestError, checkCsr, issueMemberCertificate, signMemberCertificate, type Pem } from './ca';
export { memberSubject } from './names';
