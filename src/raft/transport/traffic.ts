/**
 * Bytes a transport moved, over all its connections (both directions of every peer link): what a
 * person sizing a network, or a benchmark of what a change ships, wants to know. Received counts every
 * byte read from a peer socket; sent counts every frame written (the few bytes of each connection's
 * handshake aside).
 */
export class Traffic {
  received = 0;
  sent = 0;
}
