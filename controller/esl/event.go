package esl

import (
	"fmt"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Event is one FreeSWITCH event, decoded from the plain format. Header values
// are URL-decoded. An Event never formats its DTMF digit: String and LogValue
// print the name, sequence and leg only.
type Event struct {
	// Name is the Event-Name header, e.g. "DTMF" or "CHANNEL_HANGUP_COMPLETE".
	Name string
	// Sequence is the switch-wide, monotonic Event-Sequence header.
	Sequence uint64
	// UniqueID is the leg the event belongs to (empty for BACKGROUND_JOB).
	UniqueID string
	// Timestamp is Event-Date-Timestamp (microseconds since the epoch on the switch).
	Timestamp time.Time
	// Headers holds every header as received (URL-encoded), keyed by
	// canonical MIME name; Get decodes a value.
	Headers textproto.MIMEHeader
	// Body is the event's inner body, if it carried one.
	Body []byte
}

// Get returns the decoded value of a header, or "" if absent. FreeSWITCH
// writes "_undef_" for empty values; Get returns "" for those.
func (e Event) Get(name string) string {
	return decode(e.Headers.Get(name))
}

// decode URL-decodes a header value. A value that is not valid encoding is
// kept as it is: FreeSWITCH does not encode every value.
func decode(v string) string {
	if v == "_undef_" {
		return ""
	}
	if !strings.Contains(v, "%") {
		return v
	}
	d, err := url.PathUnescape(v)
	if err != nil {
		return v
	}
	return d
}

// String describes the event without any header values that could carry
// customer input.
func (e Event) String() string {
	return fmt.Sprintf("%s#%d(%s)", e.Name, e.Sequence, shortID(e.UniqueID))
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// DecodeEvent builds an Event from the headers the client library parsed
// out of a text/event-plain body. Only the headers every event needs are
// decoded now; the rest are decoded by Get when asked for. An event without
// Event-Name or with a malformed Event-Sequence is rejected.
func DecodeEvent(raw textproto.MIMEHeader, body []byte) (Event, error) {
	ev := Event{Headers: raw, Body: body}
	ev.Name = ev.Get("Event-Name")
	if ev.Name == "" {
		return Event{}, fmt.Errorf("%w: no Event-Name", ErrMalformedEvent)
	}
	if s := ev.Get("Event-Sequence"); s != "" {
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return Event{}, fmt.Errorf("%w: Event-Sequence %q", ErrMalformedEvent, s)
		}
		ev.Sequence = n
	}
	ev.UniqueID = ev.Get("Unique-Id")
	if ts := ev.Get("Event-Date-Timestamp"); ts != "" {
		if us, err := strconv.ParseInt(ts, 10, 64); err == nil {
			ev.Timestamp = time.UnixMicro(us)
		}
	}
	return ev, nil
}
