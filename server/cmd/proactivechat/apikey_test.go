package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
)

// runMainEnv makes the test binary run main() instead of the tests, so
// that the tests can run the real command line in a process of its own.
const runMainEnv = "PROACTIVECHAT_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	// checkDB runs `proactivechat check` in a child: here that is the
	// test binary, told to run main().
	selfCommand = func(args ...string) (*exec.Cmd, error) {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), runMainEnv+"=1")
		return cmd, nil
	}
	os.Exit(m.Run())
}

// runCLI runs `proactivechat args...` in a child process and returns its
// stdout, stderr and exit code.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("proactivechat %q: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// listAPIKeys calls AdminService.ListApiKeys on the server at url with key.
func listAPIKeys(ctx context.Context, url, key string) ([]*pb.ApiKey, error) {
	admin := proactivechatv1connect.NewAdminServiceClient(http.DefaultClient, url)
	req := connect.NewRequest(&pb.ListApiKeysRequest{})
	if key != "" {
		req.Header().Set("Authorization", "Bearer "+key)
	}
	res, err := admin.ListApiKeys(ctx, req)
	if err != nil {
		return nil, err
	}
	return res.Msg.GetApiKeys(), nil
}

func wantCode(t *testing.T, what string, err error, want connect.Code) {
	t.Helper()
	if connect.CodeOf(err) != want {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
}

// TestAPIKeyAuthenticatesAgainstTheServer: a key made with `api-key` before
// the first start is an admin key of the server that then opens the file,
// and that server makes no initial key of its own.
func TestAPIKeyAuthenticatesAgainstTheServer(t *testing.T) {
	db := filepath.Join(t.TempDir(), "data", "proactivechat.db")
	var out bytes.Buffer
	c := &CreateAPIKey{DBPath: db, Name: "provisioning", LockTimeout: lockTimeout}
	if err := c.Run(context.Background(), &out); err != nil {
		t.Fatalf("api-key: %v", err)
	}
	key := strings.TrimSuffix(out.String(), "\n")
	if !strings.HasPrefix(key, "pca_") || strings.ContainsAny(key, " \n") {
		t.Fatalf("api-key printed %q, want one pca_ key on one line", out.String())
	}

	a := runApp(t, db)
	if a.InitialAPIKey != "" {
		t.Errorf("the server made an initial key although the database has one")
	}
	ctx := context.Background()
	url := "http://" + a.Addr().String()
	keys, err := listAPIKeys(ctx, url, key)
	if err != nil {
		t.Fatalf("ListApiKeys with the new key: %v", err)
	}
	if len(keys) != 1 || keys[0].GetName() != "provisioning" || !strings.HasPrefix(keys[0].GetId(), "key") {
		t.Errorf("ListApiKeys = %v, want the one key named provisioning", keys)
	}

	_, err = listAPIKeys(ctx, url, "")
	wantCode(t, "ListApiKeys without a key", err, connect.CodeUnauthenticated)
	_, err = listAPIKeys(ctx, url, key+"x")
	wantCode(t, "ListApiKeys with a wrong key", err, connect.CodeUnauthenticated)
}

func TestAPIKeyNeedsAName(t *testing.T) {
	for _, args := range [][]string{{}, {"-db", "a.db"}, {"-name", "", "-db", "a.db"}} {
		err := (&CreateAPIKey{}).ParseFlags(args)
		if err == nil || !strings.Contains(err.Error(), "-name is required") {
			t.Errorf("ParseFlags(%q) = %v, want \"-name is required\"", args, err)
		}
	}
	if err := (&CreateAPIKey{}).ParseFlags([]string{"-name", "ci", "extra"}); err == nil || !strings.Contains(err.Error(), "unexpected arguments") {
		t.Errorf("ParseFlags with an extra argument = %v", err)
	}

	// The command line says so, exits 2, and creates no database.
	db := filepath.Join(t.TempDir(), "proactivechat.db")
	stdout, stderr, code := runCLI(t, "api-key", "-db", db)
	if code != 2 || stdout != "" || !strings.Contains(stderr, "-name is required") {
		t.Errorf("api-key without -name: exit %d, stdout %q, stderr %q; want exit 2 and \"-name is required\"", code, stdout, stderr)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("api-key without -name touched the database: %v", err)
	}
}

// TestAPIKeyRefusesWhileTheDatabaseIsInUse: a server (here another handle
// on the file) holds the database, so the key is not made, and the error
// says to use the server's API instead.
func TestAPIKeyRefusesWhileTheDatabaseIsInUse(t *testing.T) {
	db := filepath.Join(t.TempDir(), "proactivechat.db")
	a := runApp(t, db)
	before := readFile(t, db)

	err := (&CreateAPIKey{DBPath: db, Name: "late", LockTimeout: lockTimeout}).Run(context.Background(), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "through its API") {
		t.Errorf("api-key while a server runs: %v, want an \"in use\" error pointing to the API", err)
	}

	// The command line, in a process of its own, fails the same way.
	stdout, stderr, code := runCLI(t, "api-key", "-name", "late", "-db", db, "-lock-timeout", lockTimeout.String())
	if code != 1 || stdout != "" || !strings.Contains(stderr, "in use") {
		t.Errorf("api-key while a server runs: exit %d, stdout %q, stderr %q; want exit 1 and \"in use\"", code, stdout, stderr)
	}

	if !bytes.Equal(readFile(t, db), before) {
		t.Error("the database changed")
	}
	keys, err := listAPIKeys(context.Background(), "http://"+a.Addr().String(), a.InitialAPIKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].GetName() != "initial" {
		t.Errorf("keys after the refused api-key: %v, want only the initial one", keys)
	}
}

// TestAPIKeyCommandLine runs `proactivechat api-key` as a process: the key
// alone on stdout, and it authenticates against the server started next on
// the same file.
func TestAPIKeyCommandLine(t *testing.T) {
	db := filepath.Join(t.TempDir(), "proactivechat.db")
	stdout, stderr, code := runCLI(t, "api-key", "-name", "crm sync", "-db", db)
	if code != 0 {
		t.Fatalf("api-key: exit %d: %s", code, stderr)
	}
	key, ok := strings.CutSuffix(stdout, "\n")
	if !ok || !strings.HasPrefix(key, "pca_") || strings.Contains(key, "\n") {
		t.Fatalf("api-key printed %q, want the key alone on one line", stdout)
	}
	// A second key is a different one.
	stdout2, _, code := runCLI(t, "api-key", "-name", "backup job", "-db", db)
	if code != 0 || stdout2 == stdout {
		t.Fatalf("second api-key: exit %d, printed %q", code, stdout2)
	}

	a := runApp(t, db)
	url := "http://" + a.Addr().String()
	for _, k := range []string{key, strings.TrimSpace(stdout2)} {
		keys, err := listAPIKeys(context.Background(), url, k)
		if err != nil {
			t.Fatalf("ListApiKeys with %.8s…: %v", k, err)
		}
		var names []string
		for _, k := range keys {
			names = append(names, k.GetName())
		}
		if got := strings.Join(names, ", "); got != "crm sync, backup job" {
			t.Errorf("ListApiKeys = %s, want crm sync, backup job", got)
		}
	}
}

// TestAPIKeyScopedToSites: -sites scopes the key to a comma-separated list
// of sites, which must exist.
func TestAPIKeyScopedToSites(t *testing.T) {
	c := &CreateAPIKey{}
	if err := c.ParseFlags([]string{"-name", "brand", "-sites", "site_a, site_b,"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"site_a", "site_b"}; !slices.Equal(c.SiteIDs, want) {
		t.Fatalf("SiteIDs = %q, want %q", c.SiteIDs, want)
	}
	if err := c.ParseFlags([]string{"-name", "all"}); err != nil || c.SiteIDs != nil {
		t.Fatalf("without -sites: %v, SiteIDs %q; want none", err, c.SiteIDs)
	}

	db := filepath.Join(t.TempDir(), "proactivechat.db")
	var out bytes.Buffer
	err := (&CreateAPIKey{DBPath: db, Name: "brand", SiteIDs: []string{"site_missing"}, LockTimeout: lockTimeout}).Run(context.Background(), &out)
	if err == nil || !strings.Contains(err.Error(), "site_ids") || out.Len() != 0 {
		t.Fatalf("api-key -sites site_missing: %v, printed %q; want an error naming site_ids and no key", err, out.String())
	}
}
