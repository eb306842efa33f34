package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
)

// fakeQMP plays QEMU's side of a QMP session on conn: the greeting, an
// event before each answer, and answer(command line) to the
// human-monitor-command. It records the commands it received.
func fakeQMP(conn net.Conn, answer string, got *[]string) {
	defer conn.Close()
	fmt.Fprintln(conn, `{"QMP": {"version": {"qemu": {"major": 7, "minor": 2}}, "capabilities": []}}`)
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		var req struct {
			Execute   string            `json:"execute"`
			Arguments map[string]string `json:"arguments"`
		}
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			return
		}
		*got = append(*got, strings.TrimSpace(req.Execute+" "+req.Arguments["command-line"]))
		fmt.Fprintln(conn, `{"event": "DEVICE_DELETED", "data": {"device": "net0"}}`)
		if req.Execute == "qmp_capabilities" {
			fmt.Fprintln(conn, `{"return": {}}`)
			continue
		}
		fmt.Fprintln(conn, answer)
	}
}

func TestHumanMonitorCommand(t *testing.T) {
	for _, tc := range []struct {
		name, answer, wantOut, wantErr string
	}{
		{"success", `{"return": ""}`, "", ""},
		{"HMP error", `{"return": "Error: Duplicate device ID 'net0'\r\n"}`, "Error: Duplicate device ID 'net0'\r\n", "Duplicate device ID"},
		{"QMP error", `{"error": {"class": "GenericError", "desc": "no"}}`, "", "GenericError: no"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := net.Pipe()
			var got []string
			done := make(chan struct{})
			go func() { fakeQMP(server, tc.answer, &got); close(done) }()
			out, err := humanMonitorCommand(client, "device_del net0")
			client.Close()
			<-done
			if out != tc.wantOut {
				t.Errorf("output %q, want %q", out, tc.wantOut)
			}
			if (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if want := []string{"qmp_capabilities", "human-monitor-command device_del net0"}; strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("QEMU received %q, want %q", got, want)
			}
		})
	}
}

func TestHumanMonitorCommandNotQMP(t *testing.T) {
	client, server := net.Pipe()
	go func() {
		fmt.Fprintln(server, `{"hello": 1}`)
		server.Close()
	}()
	defer client.Close()
	if _, err := humanMonitorCommand(client, "info status"); err == nil || !strings.Contains(err.Error(), "did not greet") {
		t.Errorf("err = %v, want the greeting refused", err)
	}
}
