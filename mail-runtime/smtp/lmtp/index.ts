export { startLmtpServer } from './server';
export { DELIVERY_REPLIES, delivered, deliveryFailure } from './replies';
export type { DeliveryFolder, LocalDelivery, OwnsMailbox } from './types';
