//go:build linux

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/framing.golden")

const testNonce = "0123456789abcdef"

func marker(kind, value string) string { return "qemuexec:" + testNonce + ":" + kind + value + "\n" }

// failingReader returns data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestFrameStderr(t *testing.T) {
	long := strings.Repeat("x", stderrChunk)
	tests := []struct {
		name    string
		in      string
		readErr error // after in, instead of io.EOF
		want    string
	}{
		{name: "nothing", in: "", want: ""},
		{name: "lines", in: "one\ntwo\n", want: marker(markerStderr, "one") + marker(markerStderr, "two")},
		{name: "empty lines", in: "\n\n", want: marker(markerStderr, "") + marker(markerStderr, "")},
		{name: "final partial line", in: "one\npartial", want: marker(markerStderr, "one") + marker(markerStderrPart, "partial")},
		{name: "bytes other than newline pass", in: "\x00\xff\t\r\n", want: marker(markerStderr, "\x00\xff\t\r")},
		{name: "line just below the bound", in: long[1:] + "\n", want: marker(markerStderr, long[1:])},
		{
			name: "line at the bound",
			in:   long + "\n",
			want: marker(markerStderrPart, long) + marker(markerStderr, ""),
		},
		{
			name: "long line goes in pieces",
			in:   long + long + "tail\n",
			want: marker(markerStderrPart, long) + marker(markerStderrPart, long) + marker(markerStderr, "tail"),
		},
		{
			name:    "a read error flushes the partial line",
			in:      "one\npart",
			readErr: os.ErrClosed,
			want:    marker(markerStderr, "one") + marker(markerStderrPart, "part"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r = &failingReader{data: []byte(tt.in), err: tt.readErr}
			if tt.readErr == nil {
				r.err = io.EOF
			}
			var w bytes.Buffer
			err := frameStderr(&w, testNonce, r)
			if !errors.Is(err, tt.readErr) {
				t.Errorf("frameStderr error %v, want %v", err, tt.readErr)
			}
			if w.String() != tt.want {
				t.Errorf("framed\n%q\nwant\n%q", w.String(), tt.want)
			}
			// One write per marker line: the console keeps each whole.
			lines := strings.Count(tt.want, "\n")
			if got := strings.Count(w.String(), "\n"); got != lines {
				t.Errorf("%d newlines, want %d", got, lines)
			}
		})
	}
}

// lineWriter records each write, to check that every marker is one write.
type lineWriter struct{ writes []string }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// wantFile is the frames of data as output file index: the oracle the
// host's console decodes (console.go).
func wantFile(index int, data []byte) string {
	s := marker(markerFileBegin, fmt.Sprint(index))
	for len(data) > 0 {
		n := min(len(data), fileChunk)
		s += marker(markerFileData, base64.StdEncoding.EncodeToString(data[:n]))
		data = data[n:]
	}
	return s
}

func TestSendOutputs(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789\n\r\x00"), 2*fileChunk/13+1) // three data lines
	files := map[string][]byte{"big.bin": big, "empty": nil, "small.txt": []byte("plot\n")}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("small.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	// A FIFO is refused, not opened: opening it would wait for a writer.
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	end := func(index int, data []byte) string {
		return marker(markerFileEnd, fmt.Sprintf("%d:%d:%x", index, len(data), sha256.Sum256(data)))
	}
	paths := []string{"big.bin", "missing", "empty", "dir", "link", "fifo", "small.txt"}
	for i := range paths {
		paths[i] = filepath.Join(dir, paths[i])
	}
	want := wantFile(0, big) + end(0, big) +
		wantFile(2, nil) + end(2, nil) +
		marker(markerFileError, "3:"+paths[3]+" is not a regular file (mode drwxr-xr-x)") +
		marker(markerFileError, "4:"+paths[4]+" is not a regular file (mode Lrwxrwxrwx)") +
		marker(markerFileError, "5:"+paths[5]+" is not a regular file (mode prw-r--r--)") +
		wantFile(6, []byte("plot\n")) + end(6, []byte("plot\n"))

	var w lineWriter
	if err := sendOutputs(&w, testNonce, paths); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(w.writes, "")
	if got != want {
		t.Errorf("sent\n%q\nwant\n%q", got, want)
	}
	if n := strings.Count(got, "\n"); n != len(w.writes) {
		t.Errorf("%d lines in %d writes: every marker must be one write", n, len(w.writes))
	}
	if strings.Count(got, markerFileData) != 4 {
		t.Errorf("%d data lines, want 3 for big.bin and 1 for small.txt", strings.Count(got, markerFileData))
	}
	for _, l := range w.writes {
		if len(l) > 4096+64 {
			t.Errorf("a line of %d bytes: longer than the bound", len(l))
		}
	}
}

// TestSendFileReadError: a file that fails mid-way sends what it read and
// no end marker; the error goes to sendOutputs, which reports it as a
// file-error marker.
func TestSendFileReadError(t *testing.T) {
	var w bytes.Buffer
	data := bytes.Repeat([]byte{7}, fileChunk+1)
	err := sendFile(&w, testNonce, 1, &failingReader{data: data, err: syscall.EIO})
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("error %v, want EIO", err)
	}
	if want := wantFile(1, data); w.String() != want {
		t.Errorf("sent %d bytes, not the begin marker and the data lines of %d bytes (%d); no end marker", w.Len(), len(data), len(want))
	}
}

// TestFramingTranscript pins what /init sends for testdata/framing.stderr
// and testdata/framing.out to testdata/framing.golden; qemuexec's console
// test decodes the same golden transcript back into those two files, so
// the two ends are checked against one another.
func TestFramingTranscript(t *testing.T) {
	stderr, err := os.ReadFile("testdata/framing.stderr")
	if err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	if err := frameStderr(&w, testNonce, bytes.NewReader(stderr)); err != nil {
		t.Fatal(err)
	}
	if err := sendOutputs(&w, testNonce, []string{"testdata/framing.out", "testdata/no-such-file"}); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("testdata/framing.golden", w.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile("testdata/framing.golden")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.Bytes(), golden) {
		t.Errorf("the transcript differs from testdata/framing.golden (go test -update rewrites it):\n%q", w.String())
	}
}
