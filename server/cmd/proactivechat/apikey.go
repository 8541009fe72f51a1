package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/inmem"
)

// CreateAPIKey is `proactivechat api-key`: it makes an admin API key in the
// database file while no server runs, for scripts that set up a server
// before starting it and for an operator who lost every key.
type CreateAPIKey struct {
	DBPath      string
	Name        string
	LockTimeout time.Duration
	// SiteIDs scope the key to these sites; none is a key of every site.
	SiteIDs []string
}

// ParseFlags reads the api-key subcommand's flags.
func (c *CreateAPIKey) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("proactivechat api-key", flag.ContinueOnError)
	fs.StringVar(&c.DBPath, "db", env("PROACTIVECHAT_DB", "data/proactivechat.db"), "database file (env PROACTIVECHAT_DB)")
	fs.StringVar(&c.Name, "name", "", "what the key is for, e.g. \"CRM sync\"")
	sites := fs.String("sites", "", "comma-separated site ids to scope the key to (default: every site)")
	fs.DurationVar(&c.LockTimeout, "lock-timeout", defaultLockTimeout, "how long to wait for the database file's lock")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: proactivechat api-key -name NAME [-sites ID,ID] [-db FILE]

Creates an admin API key and prints it; only its hash is stored. The server
must be stopped (it holds the file); while it runs, create keys through the
AdminService (POST /v1/api-keys) instead. With -sites, the key is an admin
of those sites only.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.Name == "" {
		return errors.New("api-key: -name is required")
	}
	c.SiteIDs = nil
	for _, id := range strings.Split(*sites, ",") {
		if id = strings.TrimSpace(id); id != "" {
			c.SiteIDs = append(c.SiteIDs, id)
		}
	}
	return nil
}

// Run creates the key and writes it to out.
func (c *CreateAPIKey) Run(ctx context.Context, out io.Writer) error {
	store, err := bolt.Open(c.DBPath, bolt.WithLockTimeout(c.LockTimeout))
	if err != nil {
		return fmt.Errorf("%s: %w (a running server holds it: create keys through its API instead)", c.DBPath, err)
	}
	defer store.Close()
	svc := domain.NewService(domain.Config{Store: store, Broker: inmem.NewBroker(0)})
	defer svc.Close()
	_, token, err := svc.CreateAPIKey(ctx, c.Name, c.SiteIDs)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, token)
	return err
}
