package esl

import (
	"errors"
	"fmt"
	"strings"
)

// Errors reported by sessions. Check them with errors.Is.
var (
	// ErrClosed means the connection to FreeSWITCH has ended.
	ErrClosed = errors.New("esl: connection closed")
	// ErrDesynced means an earlier command timed out: its late reply could be
	// taken for the reply to a later command, so the session refuses further
	// commands (fail closed).
	ErrDesynced = errors.New("esl: session out of step after a command timed out")
	// ErrMalformedEvent means an event could not be decoded.
	ErrMalformedEvent = errors.New("esl: malformed event")
	// ErrRejected means FreeSWITCH answered a command with -ERR or -USAGE.
	ErrRejected = errors.New("esl: command rejected")
)

// CommandError is FreeSWITCH's refusal of a command. It matches ErrRejected.
type CommandError struct {
	// Command is the command verb and first argument, e.g. "api uuid_audio".
	Command string
	// Reply is FreeSWITCH's reply text, e.g. "-ERR No such channel!".
	Reply string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("esl: %s: %s", e.Command, e.Reply)
}

// Is reports whether target is ErrRejected.
func (e *CommandError) Is(target error) bool { return target == ErrRejected }

// verb returns the first two words of a command line for error messages and
// logs; arguments (which may hold paths) are left out.
func verb(line string) string {
	line, _, _ = strings.Cut(line, "\n")
	f := strings.Fields(line)
	switch {
	case len(f) == 0:
		return ""
	case len(f) == 1 || (f[0] != "api" && f[0] != "bgapi"):
		return f[0]
	default:
		return f[0] + " " + f[1]
	}
}
