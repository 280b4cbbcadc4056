export { createClusterCa, issueMemberCertificate, certificateNames, CA_VALIDITY_DAYS, MEMBER_VALIDITY_DAYS, type Pem } from './ca';
