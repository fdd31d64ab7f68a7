/**
 * How many of a frame's last bytes are its frame check sequence: all `fcs` of them when the
 * whole frame was captured, fewer or none when the snap length cut into or before the FCS.
 * Readers strip them so that decoders above never mistake them for payload (pcap's FCS bits,
 * pcapng's if_fcslen and epb_flags say how long it is).
 */
export function fcsPresent(captured: number, origLen: number, fcs: number): number {
  const present = captured - Math.max(0, origLen - fcs);
  return present <= 0 ? 0 : Math.min(present, fcs, captured);
}
