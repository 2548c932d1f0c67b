package fssim

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Limits on what the simulator accepts from a controller. FreeSWITCH itself
// allows a 10 MB packet; a controller never needs more than a few kilobytes.
const (
	maxHeaderBytes = 64 << 10
	maxBodyBytes   = 1 << 20
)

// errFrameTooLarge is returned when a frame's header block or body exceeds the
// limits above. The connection is closed when it happens.
var errFrameTooLarge = errors.New("fssim: frame too large")

// header is one "Name: value" line of a frame.
type header struct {
	name, value string
}

// frame is one message on the Event Socket. For a command sent by the
// controller, line holds the first line ("api status", "sendmsg <uuid>") and
// headers the lines that follow it; for a message sent by the switch, line is
// empty and every line is a header.
type frame struct {
	line    string
	headers []header
	body    []byte
}

// get returns the first value of the named header (case-insensitive, as
// FreeSWITCH compares header names).
func (f *frame) get(name string) string {
	for _, h := range f.headers {
		if strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

// text renders a command the way Commands reports it: the first line, then
// each header line, joined by LF, then the body if any.
func (f *frame) text() string {
	if len(f.headers) == 0 && len(f.body) == 0 {
		return f.line
	}
	var b strings.Builder
	b.WriteString(f.line)
	for _, h := range f.headers {
		b.WriteByte('\n')
		b.WriteString(h.name)
		b.WriteString(": ")
		b.WriteString(h.value)
	}
	if len(f.body) > 0 {
		b.WriteString("\n\n")
		b.Write(f.body)
	}
	return b.String()
}

// parseFrame parses one frame from the start of data. It returns the frame and
// the number of bytes consumed; n == 0 with a nil error means data holds an
// incomplete frame and more bytes are needed.
//
// The grammar follows FreeSWITCH's read_packet: leading CR and LF bytes are
// skipped; lines end in LF with any trailing CRs dropped (so both "\n\n" and
// "\r\n\r\n" end a header block); a line without a colon is ignored; a
// Content-Length header is followed by exactly that many body bytes. When
// command is true the first line is the command line rather than a header.
func parseFrame(data []byte, command bool) (f frame, n int, err error) {
	start := 0
	for start < len(data) && (data[start] == '\r' || data[start] == '\n') {
		start++
	}
	pos := start
	first := true
	clen := 0
	for {
		i := bytes.IndexByte(data[pos:], '\n')
		if i < 0 {
			if len(data)-start > maxHeaderBytes {
				return frame{}, 0, errFrameTooLarge
			}
			return frame{}, 0, nil
		}
		line := bytes.TrimRight(data[pos:pos+i], "\r")
		pos += i + 1
		if pos-start > maxHeaderBytes {
			return frame{}, 0, errFrameTooLarge
		}
		if len(line) == 0 {
			break
		}
		if command && first {
			f.line = string(line)
			first = false
			continue
		}
		first = false
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		h := header{name: string(name), value: string(bytes.TrimLeft(value, " "))}
		f.headers = append(f.headers, h)
		if strings.EqualFold(h.name, "Content-Length") {
			v, convErr := strconv.Atoi(strings.TrimSpace(h.value))
			if convErr != nil || v < 0 {
				v = 0
			}
			if v > maxBodyBytes {
				return frame{}, 0, fmt.Errorf("%w: body of %d bytes", errFrameTooLarge, v)
			}
			clen = v
		}
	}
	if clen > 0 {
		if len(data)-pos < clen {
			return frame{}, 0, nil
		}
		f.body = append([]byte(nil), data[pos:pos+clen]...)
		pos += clen
	}
	return f, pos, nil
}

// urlUnsafe lists the printable characters FreeSWITCH's switch_url_encode
// escapes; control characters and bytes above '~' are escaped too.
const urlUnsafe = "\r\n \"#%&+:;<=>?@[\\]^`{|}"

const hexDigits = "0123456789ABCDEF"

// unsafeTable marks the bytes urlEncode escapes.
var unsafeTable = func() (t [256]bool) {
	for i := range t {
		c := byte(i)
		t[i] = c < ' ' || c > '~' || strings.IndexByte(urlUnsafe, c) >= 0
	}
	return t
}()

// needsEncoding reports whether c must be percent-encoded.
func needsEncoding(c byte) bool { return unsafeTable[c] }

// urlEncode escapes s as FreeSWITCH does for header values of plain events and
// of the connect reply. Like switch_url_encode it does not escape a '%' that
// already starts a valid %XX sequence.
func urlEncode(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if needsEncoding(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(c)
			continue
		}
		if needsEncoding(c) {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// wbuf is an append-only buffer frames and events are rendered into.
type wbuf []byte

func (w *wbuf) put(s string)   { *w = append(*w, s...) }
func (w *wbuf) putc(c byte)    { *w = append(*w, c) }
func (w *wbuf) putInt(v int64) { *w = strconv.AppendInt(*w, v, 10) }
func (w *wbuf) putValue(v string) {
	if v == "" {
		w.put("_undef_")
		return
	}
	w.putEncoded(v)
}

// putEncoded appends s URL-encoded as urlEncode does, without allocating.
func (w *wbuf) putEncoded(s string) { appendEncoded(w, s) }

func appendEncoded[T ~string | ~[]byte](w *wbuf, s T) {
	b := *w
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, c)
			continue
		}
		if needsEncoding(c) {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		b = append(b, c)
	}
	*w = b
}

// bufPool recycles event buffers; most events fit in 8 KB.
var bufPool = sync.Pool{New: func() any {
	b := make(wbuf, 0, 8192)
	return &b
}}

func getBuf() *wbuf { b := bufPool.Get().(*wbuf); *b = (*b)[:0]; return b }

func putBuf(b *wbuf) {
	if cap(*b) <= 64<<10 {
		bufPool.Put(b)
	}
}

// urlDecode reverses urlEncode; malformed escapes are kept as they are.
func urlDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
