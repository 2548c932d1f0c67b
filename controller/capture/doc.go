// Package capture is the card capture engine: a pure state machine that turns
// what happens on a call (digits with their source, timer fires, agent
// commands, confirmations from the switch, hang-up) into actions for the
// caller to carry out (arm and disarm masking, prompt, start and stop timers,
// report progress, hand over the card).
//
// The engine does no I/O, starts no goroutines, reads no clock and draws no
// random numbers: the caller owns timers and passes the date in [Start]. An
// [Engine] is not safe for concurrent use; one call's session goroutine owns it.
//
// # Lifecycle
//
//	idle --Start--> arming --Armed--> collecting --last field valid--> complete
//	                  |                   |
//	                  +--ArmFailed--> failed (masking stays on: no Disarm)
//	                                      +--attempts used up--> failed
//	any non-terminal --Cancel--> cancelled;  --HangUp--> hung-up
//
// complete, cancelled, failed and hung-up are terminal: once there, Step
// ignores every input and returns nil, without exception. Every path into a
// terminal state wipes all the digit buffers the engine still owns; on
// complete, ownership of the buffers passes to the caller inside [CardReady].
//
// # Card data
//
// Digits live only in [card.Secret] buffers. No Input's or Action's String,
// Format, LogValue or JSON form contains a digit value; events carry counts,
// the brand and, once the PAN is complete and valid, its last four digits.
package capture
