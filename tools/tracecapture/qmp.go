package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// qmpTimeout bounds one qmp subcommand: connecting, the greeting and two
// commands.
const qmpTimeout = 10 * time.Second

// runQMP is the qmp subcommand: it runs one human-monitor command on QEMU's
// QMP socket and prints the command's output.
func runQMP(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("qmp", flag.ContinueOnError)
	socket := fs.String("socket", "", "QEMU's QMP socket (-qmp unix:PATH,server=on,wait=off)")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if *socket == "" || fs.NArg() == 0 {
		return usageError("need -socket and a monitor command")
	}
	conn, err := net.DialTimeout("unix", *socket, qmpTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(qmpTimeout)); err != nil {
		return err
	}
	out, err := humanMonitorCommand(conn, strings.Join(fs.Args(), " "))
	fmt.Fprint(stdout, out)
	return err
}

// qmpMessage is one message from QEMU: the greeting, an asynchronous event,
// or the answer to a command (exactly one of return and error).
type qmpMessage struct {
	QMP    json.RawMessage `json:"QMP"`
	Event  string          `json:"event"`
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
}

// humanMonitorCommand talks QMP on rw from the greeting on: it leaves
// capability negotiation, runs the HMP command line cmd and returns its
// output. An error is QMP's, or the command's output when it starts with
// "Error" (HMP reports a failed device_add that way, in the output).
func humanMonitorCommand(rw io.ReadWriter, cmd string) (string, error) {
	s, err := startQMP(rw)
	if err != nil {
		return "", err
	}
	ret, err := s.execute("human-monitor-command", map[string]string{"command-line": cmd})
	if err != nil {
		return "", err
	}
	var out string
	if err := json.Unmarshal(ret, &out); err != nil {
		return "", fmt.Errorf("human-monitor-command returned %s, not a string", ret)
	}
	if strings.HasPrefix(out, "Error") {
		return out, fmt.Errorf("%s: %s", cmd, strings.TrimSpace(out))
	}
	return out, nil
}

// qmpSession is a QMP connection in command mode.
type qmpSession struct {
	w   io.Writer
	dec *json.Decoder
}

// startQMP reads QEMU's greeting on rw and leaves capability negotiation.
func startQMP(rw io.ReadWriter) (*qmpSession, error) {
	s := &qmpSession{w: rw, dec: json.NewDecoder(rw)}
	var greeting qmpMessage
	if err := s.dec.Decode(&greeting); err != nil {
		return nil, fmt.Errorf("reading QMP's greeting: %w", err)
	}
	if greeting.QMP == nil {
		return nil, errors.New("the socket did not greet as QMP does")
	}
	if _, err := s.execute("qmp_capabilities", nil); err != nil {
		return nil, err
	}
	return s, nil
}

// execute runs one QMP command and returns its answer's return value.
func (s *qmpSession) execute(command string, arguments any) (json.RawMessage, error) {
	return qmpExecute(s.w, s.dec, command, arguments)
}

// qmpExecute sends one command and returns its answer's return value,
// skipping the events that come before it.
func qmpExecute(w io.Writer, dec *json.Decoder, command string, arguments any) (json.RawMessage, error) {
	req := map[string]any{"execute": command}
	if arguments != nil {
		req["arguments"] = arguments
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	for {
		var m qmpMessage
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("reading the answer to %s: %w", command, err)
		}
		switch {
		case m.Error != nil:
			return nil, fmt.Errorf("%s: %s: %s", command, m.Error.Class, m.Error.Desc)
		case m.Return != nil:
			return m.Return, nil
		}
		// an event: not the answer
	}
}
