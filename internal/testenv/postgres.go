package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds of [StartPostgres].
const (
	// PostgresStartTimeout bounds initdb and the server's start.
	PostgresStartTimeout = 90 * time.Second
	// PostgresStopTimeout bounds the server's fast shutdown before it is
	// killed.
	PostgresStopTimeout = 30 * time.Second
	// PostgresUser is the superuser of the cluster, and the system user
	// the server runs as when the test runs as root (PostgreSQL refuses
	// to run as root).
	PostgresUser = "postgres"
)

// ErrPostgresStart is the error of a server that did not become ready.
var ErrPostgresStart = errors.New("postgres did not start")

// Postgres is a PostgreSQL server of one test: its own cluster in a
// temporary directory, on a free loopback port, trust authentication.
type Postgres struct {
	// Port is the TCP port it listens on at 127.0.0.1.
	Port int
}

// DSN is the connection string of database db as the superuser.
func (p *Postgres) DSN(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", PostgresUser, p.Port, db)
}

// postgresBin finds the directory of initdb and postgres: on PATH, else
// Debian's /usr/lib/postgresql/VERSION/bin.
func postgresBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if pp, err := exec.LookPath("postgres"); err == nil {
			dir2 := filepath.Dir(pp)
			if dir == dir2 {
				return dir, nil
			}
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- { // the newest version first
		if _, err := os.Stat(filepath.Join(dirs[i], "postgres")); err == nil {
			return dirs[i], nil
		}
	}
	return "", errors.New("initdb and postgres not found on PATH nor in /usr/lib/postgresql/*/bin")
}

// StartPostgres starts a PostgreSQL server for t and stops it (fast
// shutdown, then kill) and removes its files in t's Cleanup. It skips t
// (fails it under CI) when PostgreSQL is not installed, and fails t when
// the server does not start within PostgresStartTimeout.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin, err := postgresBin()
	Need(t, "PostgreSQL (Debian package postgresql; scripts/install-peers.sh)", err)
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup(PostgresUser)
		Need(t, "system user "+PostgresUser+" to run PostgreSQL as (Debian package postgresql)", err)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	dir, err := os.MkdirTemp("", "dialtone-pg-")
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatalf("postgres: %v", err)
	}
	if cred != nil {
		for _, d := range []string{dir, data} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatalf("postgres: %v", err)
			}
		}
	}
	deadline := time.Now().Add(PostgresStartTimeout)
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", PostgresUser,
		"--no-sync", "--no-locale", "-E", "UTF8")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Env = append(os.Environ(), "LC_ALL=C")
	initdb.WaitDelay = time.Second
	timer := time.AfterFunc(time.Until(deadline), func() {
		if initdb.Process != nil {
			_ = initdb.Process.Kill()
		}
	})
	out, err := initdb.CombinedOutput()
	timer.Stop()
	if err != nil {
		t.Fatalf("postgres: initdb: %v\n%s", err, out)
	}
	var last error
	for range 3 { // another process may take the free port in between
		p, err := startPostgres(t, bin, dir, data, cred, deadline)
		if err == nil {
			return p
		}
		last = err
	}
	t.Fatalf("%v", last)
	return nil
}

// freeTCPPort returns a port that was free on 127.0.0.1.
func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startPostgres(t testing.TB, bin, dir, data string, cred *syscall.Credential, deadline time.Time) (*Postgres, error) {
	port, err := freeTCPPort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPostgresStart, err)
	}
	var (
		mu  sync.Mutex
		log strings.Builder
	)
	ready := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "ready to accept connections") {
				once.Do(func() { close(ready) })
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		_ = pw.Close()
		<-readerDone
		exited <- err
	}()
	logText := func() string {
		mu.Lock()
		defer mu.Unlock()
		return log.String()
	}
	stop := func() error {
		_ = cmd.Process.Signal(os.Interrupt) // fast shutdown
		select {
		case err := <-exited:
			return err
		case <-time.After(PostgresStopTimeout):
			_ = cmd.Process.Kill()
			return <-exited
		}
	}
	select {
	case <-ready:
	case err := <-exited:
		return nil, fmt.Errorf("%w: exited: %v\n%s", ErrPostgresStart, err, logText())
	case <-time.After(time.Until(deadline)):
		_ = stop()
		return nil, fmt.Errorf("%w within %v\n%s", ErrPostgresStart, PostgresStartTimeout, logText())
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Logf("postgres stopped: %v", err)
		}
	})
	return &Postgres{Port: port}, nil
}
