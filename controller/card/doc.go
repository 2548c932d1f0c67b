// Package card validates payment card data keyed on a phone and holds it in
// wipeable buffers.
//
// Card data (the PAN, the expiry date and the CVV) lives only in [Secret]
// buffers, which are zeroed when the capture ends and which print, log and
// marshal as a masked placeholder whatever the caller does with them. The
// validation functions work on those bytes directly and never copy them into
// strings. Errors carry a stable [Reason] code and never contain a digit.
//
// The package does no I/O and keeps no state between calls.
package card
