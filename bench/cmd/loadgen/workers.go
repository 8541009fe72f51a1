package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
)

// workerProc is the load generator's handle on one worker process.
type workerProc struct {
	id     int
	cmd    *exec.Cmd
	enc    *json.Encoder
	events chan Event

	mu       sync.Mutex
	progress Progress
	exited   chan struct{}
}

func startWorker(exe string, id int) (*workerProc, error) {
	cmd := exec.Command(exe, "-worker", fmt.Sprint(id))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w := &workerProc{id: id, cmd: cmd, enc: json.NewEncoder(stdin), events: make(chan Event, 16), exited: make(chan struct{})}
	go func() {
		dec := json.NewDecoder(bufio.NewReaderSize(stdout, 1<<20))
		for {
			var e Event
			if err := dec.Decode(&e); err != nil {
				close(w.exited)
				return
			}
			switch e.Op {
			case "progress":
				w.mu.Lock()
				w.progress = *e.Progress
				w.mu.Unlock()
			default:
				w.events <- e
			}
		}
	}()
	return w, nil
}

func (w *workerProc) send(c Cmd) error { return w.enc.Encode(c) }

// startWorkers starts n workers of exe and sends each init. On an error
// the workers already started are in ws, for the caller's quit.
func startWorkers(exe string, n int, init Cmd) (ws workerSet, err error) {
	for i := range n {
		w, err := startWorker(exe, i)
		if err != nil {
			return ws, err
		}
		ws = append(ws, w)
	}
	_, err = ws.all(func(int) Cmd { return init }, 30*time.Second)
	return ws, err
}

// wait returns the worker's next "done" or "report" event.
func (w *workerProc) wait(timeout time.Duration) (Event, error) {
	select {
	case e := <-w.events:
		if e.Op == "error" {
			return e, fmt.Errorf("worker %d: %s", w.id, e.Err)
		}
		return e, nil
	case <-w.exited:
		return Event{}, fmt.Errorf("worker %d exited", w.id)
	case <-time.After(timeout):
		return Event{}, fmt.Errorf("worker %d: no answer within %v", w.id, timeout)
	}
}

func (w *workerProc) Progress() Progress {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.progress
}

type workerSet []*workerProc

// all sends each worker its command and waits for every answer.
func (ws workerSet) all(cmd func(i int) Cmd, timeout time.Duration) ([]Event, error) {
	for i, w := range ws {
		if err := w.send(cmd(i)); err != nil {
			return nil, err
		}
	}
	out := make([]Event, len(ws))
	for i, w := range ws {
		e, err := w.wait(timeout)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

func (ws workerSet) progress() Progress {
	var p Progress
	for _, w := range ws {
		q := w.Progress()
		p.Held += q.Held
		p.Invited += q.Invited
		p.Submitted += q.Submitted
		p.Chatting += q.Chatting
		p.Sent += q.Sent
		p.SendErrors += q.SendErrors
		p.PageViews += q.PageViews
		p.PageViewsUnavailable += q.PageViewsUnavailable
		p.Resumed += q.Resumed
		p.BrokenAgain += q.BrokenAgain
		p.BackAgain += q.BackAgain
		p.CaughtUp += q.CaughtUp
		p.MuxHeld += q.MuxHeld
		p.Errors += q.Errors
	}
	return p
}

func (ws workerSet) cpu() time.Duration {
	var t time.Duration
	for _, w := range ws {
		c, _ := procCPU(w.cmd.Process.Pid)
		t += c
	}
	return t
}

func (ws workerSet) quit() {
	for _, w := range ws {
		w.send(Cmd{Op: "quit"})
	}
	for _, w := range ws {
		select {
		case <-w.exited:
		case <-time.After(5 * time.Second):
			w.cmd.Process.Kill()
		}
		w.cmd.Wait()
	}
}
