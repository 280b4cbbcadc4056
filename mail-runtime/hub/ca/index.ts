export { issueMemberCertificate, type Pem } from './ca';
