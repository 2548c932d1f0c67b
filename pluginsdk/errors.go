package pluginsdk

import "fmt"

// ErrorKind classifies an error returned by a Provider. The kind crosses the
// process boundary as an enum; the message crosses as text and must never
// hold card data.
type ErrorKind int

// The error kinds. KindPluginGone is made by the host side only: it is never
// sent by a plugin.
const (
	KindInternal            ErrorKind = iota // a bug or unexpected condition in the plugin
	KindUnsupported                          // the operation or option is not supported
	KindNotConfigured                        // Configure has not been called, or lacks a setting
	KindInvalidRequest                       // the request is malformed; nothing was sent
	KindProviderUnavailable                  // the PSP could not be reached; nothing was sent
	KindDeadline                             // the call's deadline passed; the operation may have happened
	KindPluginGone                           // the plugin process could not be reached or died during the call
)

var kindNames = [...]string{
	KindInternal:            "internal",
	KindUnsupported:         "unsupported",
	KindNotConfigured:       "not configured",
	KindInvalidRequest:      "invalid request",
	KindProviderUnavailable: "provider unavailable",
	KindDeadline:            "deadline exceeded",
	KindPluginGone:          "plugin gone",
}

// String names the kind.
func (k ErrorKind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// Error is the error type that crosses the plugin boundary. Two *Error values
// match under errors.Is when their kinds are equal, so
//
//	errors.Is(err, pluginsdk.ErrDeadline)
//
// holds for any deadline error whatever its message.
type Error struct {
	Kind    ErrorKind
	Message string // never card data
}

// Error formats the kind and message.
func (e *Error) Error() string {
	if e.Message == "" {
		return "payment provider: " + e.Kind.String()
	}
	return "payment provider: " + e.Kind.String() + ": " + e.Message
}

// Is reports whether target is an *Error of the same kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind
}

// Errorf returns an *Error of the given kind. The formatted message must not
// contain card data.
func Errorf(kind ErrorKind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Sentinel errors, one per kind, for errors.Is.
var (
	ErrUnsupported         = &Error{Kind: KindUnsupported}
	ErrNotConfigured       = &Error{Kind: KindNotConfigured}
	ErrInvalidRequest      = &Error{Kind: KindInvalidRequest}
	ErrProviderUnavailable = &Error{Kind: KindProviderUnavailable}
	ErrDeadline            = &Error{Kind: KindDeadline}
	ErrInternal            = &Error{Kind: KindInternal}
	ErrPluginGone          = &Error{Kind: KindPluginGone}
)
