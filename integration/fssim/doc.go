// Package fssim is a FreeSWITCH simulator for Tonewall's end-to-end tests.
//
// A Switch places simulated customer calls on a controller the way
// FreeSWITCH's `socket <addr> async full` dialplan application does: it dials
// the controller, waits for `connect`, and then serves the outbound Event
// Socket on that one connection with the framing, replies, refusals and
// events of FreeSWITCH 1.10.12 as captured in shared/fs-transcripts.
//
// Besides the wire protocol, each call carries a media model of who hears
// what. Media bugs are kept per leg in the order they were added (in-band
// detector, uuid_audio mute, uuid_displace with or without mux, recordings,
// uuid_drop_dtmf), and every customer key press (Call.Press) is resolved
// against them as the real switch was verified to behave:
//
//   - an in-band tone is reported by spandsp_start_dtmf (and core start_dtmf)
//     only if the detector was added before any read mute of leg A;
//   - the tone reaches the agent unless A's read is muted (or replaced by a
//     displace without mux), and a recording of A unless A's read is muted or
//     the recording is masked (uuid_record mask also blanks the agent);
//   - digits detected in-band or received as RFC 2833 are relayed to the
//     agent's leg unless `uuid_drop_dtmf <B> on` or bridge_filter_dtmf=true;
//   - `uuid_displace <B> start tone_stream://... 0 m` adds the flat tone to
//     what the agent hears; without `m` the agent's voice no longer reaches
//     the customer.
//
// Tests read the outcome from KeyPress, Presses, AgentHears, CustomerHears,
// Media and Recordings, and can inject faults: slow or wrong replies, dropped
// connections, hang-ups of either leg, duplicate digits.
//
// Where the simulator is deliberately simpler or stricter than FreeSWITCH:
//
//   - Without linger, the socket is closed right after the disconnect notice
//     and events of the hang-up (CHANNEL_HANGUP_COMPLETE...) are never sent;
//     the real switch sometimes gets them out first.
//   - Applications complete at once (playback included); a displaced file
//     plays for CallOptions.PromptDuration, a looping tone until stopped.
//   - A listener with filters receives only its own call's events that match;
//     a filter naming another call's uuid does not bring that call's events
//     in. An unfiltered listener receives every call's events, and those of
//     other calls may arrive out of Event-Sequence order.
//   - Only the API commands and applications a controller needs are known
//     (uuid_audio, uuid_drop_dtmf, uuid_displace, uuid_record, uuid_kill,
//     uuid_setvar, uuid_getvar, uuid_recv_dtmf, uuid_exists, status; bridge,
//     set, playback, spandsp_start_dtmf, start_dtmf, hangup, answer and a few
//     more). Other API commands answer "-ERR <cmd> Command not found!" and
//     other applications hang the channel up, as unknown ones do on the
//     real switch.
//
// The package is a stand-in for an external switch and deliberately imports
// nothing from the controller.
package fssim
