package replay

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Trace is a parsed QEMU trace log: every line, with its line number,
// either an event this package knows ([Trace.Records]) or a line kept
// aside ([Trace.Unknown], [Trace.Foreign]).
type Trace struct {
	// Records are the events of the kinds [Kinds] lists, in trace order.
	Records []Record
	// Unknown are lines that are trace events of other kinds: QEMU's
	// other gicv3 events (the distributor's, the GICv4 commands, the
	// CPU interface's but for acknowledges and EOIs) and any other
	// subsystem's.
	Unknown []Line
	// Foreign are the other lines: QEMU's own messages (-d guest_errors),
	// blank lines, a last line cut short.
	Foreign []Line
	// Lines is the number of lines read.
	Lines int
	// Gzipped says the input was gzip-compressed.
	Gzipped bool
}

// A Record is one parsed event and the line it was on (1-based).
type Record struct {
	Line  int
	Event Event
}

// A Line is a line of the trace that is not a parsed event.
type Line struct {
	Number int
	// Name is the event's name for a line of [Trace.Unknown], empty for
	// a foreign line.
	Name string
	// Text is the line, cut at 4 KiB.
	Text string
	// Why says why a foreign line that looks like an event was not
	// parsed, or is empty.
	Why string
}

// Errors that [Parse] wraps.
var (
	// ErrEmpty: the input has no lines.
	ErrEmpty = errors.New("the trace is empty")
	// ErrNoEvents: the input has lines, but none is a GICv3 ITS,
	// redistributor or CPU-interface event this package knows.
	ErrNoEvents = errors.New("no GICv3 ITS or redistributor events: not a QEMU trace log of ITS traffic (capture one with -trace 'gicv3_its*' -trace 'gicv3_redist*' -D FILE)")
)

// LineError is a line naming an event this package knows whose message
// does not have the event's format.
type LineError struct {
	File   string // set by ParseFile
	Line   int
	Event  string
	Format string // what the message should look like
	Err    error  // where it stops matching, or which value does not fit
}

func (e *LineError) Error() string {
	where := fmt.Sprintf("line %d", e.Line)
	if e.File != "" {
		where = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	return fmt.Sprintf("%s: %s: %v (its format: %q)", where, e.Event, e.Err, e.Format)
}

func (e *LineError) Unwrap() error { return e.Err }

// ParseError lists the malformed lines of a trace, the first
// maxLineErrors of them.
type ParseError struct {
	Errors []*LineError
	// More is the number of malformed lines not listed.
	More int
}

// maxLineErrors bounds [ParseError.Errors]: a trace of another QEMU
// version may have a malformed line per event.
const maxLineErrors = 20

func (e *ParseError) Error() string {
	lines := make([]string, 0, len(e.Errors)+1)
	for _, le := range e.Errors {
		lines = append(lines, le.Error())
	}
	if e.More > 0 {
		lines = append(lines, fmt.Sprintf("... and %d more malformed lines", e.More))
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the line errors, for errors.As.
func (e *ParseError) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i, le := range e.Errors {
		errs[i] = le
	}
	return errs
}

// ParseFile parses the trace log at path, plain or gzipped. Errors name
// the file, and each malformed line as FILE:LINE.
func ParseFile(path string) (*Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr, err := Parse(f)
	var pe *ParseError
	switch {
	case errors.As(err, &pe):
		for _, le := range pe.Errors {
			le.File = path
		}
		return nil, pe
	case err != nil:
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tr, nil
}

// Parse reads a trace log written by QEMU's log trace backend (-trace
// EVENTS -D FILE): one event a line, "NAME MESSAGE", possibly after the
// timestamp -msg timestamp=on adds (QEMU 7.2 writes the thread's
// "ID@SECONDS.MICROSECONDS:"; later versions an ISO 8601 time, which is
// accepted too). Gzipped input is recognised by its magic number.
//
// Every line is kept: an event of a kind [Kinds] lists becomes a
// [Record]; any other trace event goes to [Trace.Unknown] and any other
// line to [Trace.Foreign], neither an error. A line naming a known event
// whose message does not have the event's format is an error, a
// [*ParseError] naming the line and the format it should have, unless it
// is the last line and cut short (QEMU was killed while writing it).
//
// The result is nil exactly when the error is not. An input with no lines
// fails with [ErrEmpty]; one with lines but no known event with
// [ErrNoEvents].
func Parse(r io.Reader) (*Trace, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	tr := &Trace{}
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("reading the gzip header: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
		tr.Gzipped = true
	}
	pe := &ParseError{}
	for {
		text, complete, err := readLine(br)
		if text == "" && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			if tr.Gzipped && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum)) {
				return nil, fmt.Errorf("the gzipped trace is cut short or corrupt at line %d (%w): was it copied while QEMU still wrote it?", tr.Lines+1, err)
			}
			return nil, fmt.Errorf("reading line %d: %w", tr.Lines+1, err)
		}
		tr.Lines++
		tr.add(tr.Lines, text, complete, pe)
		if err == io.EOF {
			break
		}
	}
	switch {
	case len(pe.Errors) > 0:
		return nil, pe
	case tr.Lines == 0:
		return nil, ErrEmpty
	case len(tr.Records) == 0:
		return nil, fmt.Errorf("%s, %d of them trace events of other kinds: %w", plural(tr.Lines, "line"), len(tr.Unknown), ErrNoEvents)
	}
	return tr, nil
}

// maxLineText is how much of a line is kept; the rest is read and dropped.
const maxLineText = 4 << 10

// readLine returns the next line without its end of line ("\n" or
// "\r\n"), and whether it had one.
func readLine(br *bufio.Reader) (string, bool, error) {
	var b []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if room := maxLineText - len(b); room > 0 {
			b = append(b, chunk[:min(len(chunk), room)]...)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			return string(b), false, err
		}
		s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		return s, true, nil
	}
}

// add classifies one line.
func (tr *Trace) add(n int, text string, complete bool, pe *ParseError) {
	rest := stripTimestamp(text)
	name, msg, _ := strings.Cut(rest, " ")
	s, known := specs[name]
	switch {
	case known:
		ev, err := s.decode(msg)
		switch {
		case err == nil:
			tr.Records = append(tr.Records, Record{Line: n, Event: ev})
		case !complete:
			tr.Foreign = append(tr.Foreign, Line{Number: n, Text: text, Why: "the last line, cut short: " + err.Error()})
		case len(pe.Errors) < maxLineErrors:
			pe.Errors = append(pe.Errors, &LineError{Line: n, Event: name, Format: s.format.text, Err: err})
		default:
			pe.More++
		}
	case isEventName(name) && (rest != text || strings.Contains(name, "_")):
		tr.Unknown = append(tr.Unknown, Line{Number: n, Name: name, Text: text})
	default:
		tr.Foreign = append(tr.Foreign, Line{Number: n, Text: text})
	}
}

// stripTimestamp removes the prefix -msg timestamp=on adds to a trace
// line, if there is one: "PID@SECONDS.MICROSECONDS:" or
// "YYYY-MM-DDTHH:MM:SS.UUUUUUZ " with an optional "(PID) " after it.
func stripTimestamp(s string) string {
	if at := strings.IndexByte(s, '@'); at > 0 && allDigits(s[:at]) {
		if colon := strings.IndexByte(s[at:], ':'); colon > 0 {
			sec, usec, ok := strings.Cut(s[at+1:at+colon], ".")
			if ok && allDigits(sec) && allDigits(usec) {
				return s[at+colon+1:]
			}
		}
	}
	if len(s) > 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && allDigits(s[:4]) {
		if z := strings.Index(s, "Z "); z > 10 && z < 40 {
			rest := s[z+2:]
			if strings.HasPrefix(rest, "(") {
				if end := strings.Index(rest, ") "); end > 1 && allDigits(rest[1:end]) {
					rest = rest[end+2:]
				}
			}
			return rest
		}
	}
	return s
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isEventName reports whether s can be a QEMU trace event's name: lower
// case letters, digits and underscores, not starting with a digit.
func isEventName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
