package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/proactivechat/proactivechat/bench/hist"
	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// run is one whole measurement; see the package comment and bench/README.md.
func run(cfg Config) error {
	res := &Results{Start: time.Now().UTC().Format(time.RFC3339), Config: cfg, Command: strings.Join(os.Args, " "),
		CPUs: numCPU(), GoVersion: goVersion(), Hists: map[string]*hist.Histogram{}}
	exe, tmp, bin, cleanup, err := prepare(cfg, "pcbench-", "server log, database")
	if err != nil {
		return err
	}
	defer cleanup()
	serverCPU := ""
	if cfg.Pin {
		serverCPU = "1"
		res.Pinning = "server on CPU 1, load generator and its workers on CPU 0 (taskset)"
	} else {
		res.Pinning = "none: server and load generator share the cores"
	}
	if cfg.ServerGOMAXPROCS > 0 {
		res.Pinning += fmt.Sprintf("; server GOMAXPROCS=%d", cfg.ServerGOMAXPROCS)
	}
	logf("proactivechat load generator: %d visitors (%d chatting, mode %s), %d agents, %.0f msg/s open loop for %v; %s",
		cfg.Visitors, cfg.Chats, cfg.Mode, cfg.Agents, cfg.Rate, cfg.Duration, res.Pinning)

	if cfg.WaitQuiet > 0 {
		waitQuiet(cfg.WaitQuiet)
	}

	// The floor, before the server runs, on the same cores and disk.
	if cfg.FloorDuration > 0 {
		logf("floor 1/3: bare connect-go bidi echo, 100 streams on one connection, %d B messages, %v", cfg.MsgSize, cfg.FloorDuration)
		echo, err := floorEcho(exe, serverCPU, 100, cfg.MsgSize, cfg.FloorDuration)
		if err != nil {
			return fmt.Errorf("echo floor: %w", err)
		}
		res.Floor.Echo = echo
		for k, h := range echo.hists {
			res.Hists[k] = h
		}
		logf("  %.0f round trips/s, p50 %.3f ms (one stream: %.0f/s, p50 %.3f ms); server %.1f µs CPU per round trip",
			echo.RoundTripsPerS, echo.Latency.P50Ms, echo.OneStreamRTPS, echo.OneStream.P50Ms, echo.ServerCPUPerRT)
		// The relay runs with the server's GOMAXPROCS: the real server
		// takes 2 on one CPU (its main raises Go's default of 1).
		relayProcs := ""
		if cfg.ServerGOMAXPROCS > 0 {
			relayProcs = fmt.Sprint(cfg.ServerGOMAXPROCS)
		} else if serverCPU != "" {
			relayProcs = "2"
		}
		logf("floor 2/3: bare connect-go relay, %d chats: unary SendMessage on the sender's own connection, its event on two streams (the chat's visitor and agent), no storage", cfg.Chats)
		relay, err := floorRelay(exe, serverCPU, relayProcs, cfg.Chats, cfg.Agents, cfg.MsgSize, cfg.FloorDuration)
		if err != nil {
			return err
		}
		res.Floor.Relay = relay
		logf("  %.0f messages/s, ack p50 %.3f ms; server %.1f µs CPU per message; %d events delivered", relay.MsgsPerS, relay.Ack.P50Ms, relay.ServerCPU, relay.Delivered)
		// The memory floor: idle streams of the bare server, each in a
		// fresh process, as the real server holds its visitors'.
		relay.HeldStreams, relay.MuxPerConn = min(max(cfg.Visitors, 400), 2000), 100
		if relay.KBPerOwnConn, err = floorHeld(exe, serverCPU, relayProcs, relay.HeldStreams, 1); err != nil {
			return err
		}
		if relay.KBPerMuxStream, err = floorHeld(exe, serverCPU, relayProcs, relay.HeldStreams, relay.MuxPerConn); err != nil {
			return err
		}
		logf("  bare idle streams: %.1f KB of RSS each on its own connection, %.1f KB %d to a connection (%d held)", relay.KBPerOwnConn, relay.KBPerMuxStream, relay.MuxPerConn, relay.HeldStreams)
		logf("floor 3/3: bare bbolt put loop in %s, %v each way", tmp, cfg.FloorDuration)
		bf, err := floorBolt(exe, serverCPU, tmp, cfg.FloorDuration, cfg.MsgSize)
		if err != nil {
			return err
		}
		res.Floor.Bolt = bf
		logf("  one Put per Update: %.0f/s, p50 %.3f ms; 100 per Update: %.0f puts/s", bf.PutsPerS, bf.Latency.P50Ms, bf.BatchPutsPerS)
	}

	apiKey, err := createAPIKey(bin, tmp)
	if err != nil {
		return err
	}
	if apiKey == "" {
		res.Notes = append(res.Notes, "the server binary has no api-key subcommand: calls were made without credentials")
	}
	srv, err := startServer(bin, tmp, serverCPU, cfg.ServerGOMAXPROCS)
	if err != nil {
		return err
	}
	serverAlive := true
	defer func() {
		if serverAlive {
			srv.kill()
		}
	}()
	logf("server pid %d on %s", srv.pid, srv.addr)
	// What the server holds before anyone connects: at the end, once every
	// client has left, it should be back here.
	srv.gc()
	if m, err := srv.metrics(); err == nil {
		res.Baseline = res.memSample(m, srv.pid)
		// The server's own word: on one CPU it raises Go's default of 1
		// to 2 (see its main), unless GOMAXPROCS is set.
		if n, ok := m["go_sched_gomaxprocs_threads"]; ok && cfg.ServerGOMAXPROCS == 0 {
			res.Pinning += fmt.Sprintf("; server GOMAXPROCS=%d (from its /metrics)", int(n))
		}
	}
	// The admin calls carry the API key; each agent and each visitor gets
	// its own credential (startAgents, the workers).
	ctx := withToken(context.Background(), apiKey)

	adminConn, err := dial(srv.addr, "127.0.253.1")
	if err != nil {
		return err
	}
	defer adminConn.Close()
	admin := pb.NewAdminServiceClient(adminConn)
	sites, err := createSites(ctx, admin, cfg)
	if err != nil {
		return err
	}
	var siteIDs []string
	for _, k := range []string{kindInvite, kindNoInvite, kindBrowse} {
		if id, ok := sites[k]; ok {
			siteIDs = append(siteIDs, id)
		}
	}
	capacity := min(100, ceilDiv(cfg.Chats, cfg.Agents)+2)
	agents, err := startAgents(ctx, []string{srv.addr}, admin, cfg.Agents, capacity, siteIDs, cfg.Presence, cfg.LaunchAfter, cfg.ReplyEvery, cfg.MsgSize)
	if err != nil {
		return err
	}
	defer agents.close()
	agents.replyOn.Store(true)
	logf("%d sites, %d agents available (max %d chats each), watching alerts%s", len(sites), cfg.Agents, capacity,
		map[bool]string{true: " and presence", false: ""}[cfg.Presence])

	nWorkers := ceilDiv(cfg.Visitors, cfg.PerWorker)
	ws, err := startWorkers(exe, nWorkers, Cmd{Op: "init", Server: srv.addr, LaunchAfter: cfg.LaunchAfter, PageViewEvery: cfg.PageViewEvery, MsgSize: cfg.MsgSize, Converse: cfg.Converse})
	defer func() { ws.quit() }()
	if err != nil {
		return err
	}
	res.Workers = nWorkers

	// Plans: browsing visitors first, then the chat cohort, dealt round
	// robin to the workers, each from its own loopback source addresses.
	browse := cfg.Visitors - cfg.Chats
	holdPlans := make([][]VisitorPlan, nWorkers)
	cohortPlans := make([][]VisitorPlan, nWorkers)
	for i := range cfg.Visitors {
		w, local := i%nWorkers, i/nWorkers
		p := VisitorPlan{Index: i, Src: sourceAddr(w, local)}
		if i < browse {
			p.Kind = kindBrowse
			p.Site = sites[kindBrowse]
			if p.Site == "" {
				p.Site = siteIDs[i%len(siteIDs)]
			}
			holdPlans[w] = append(holdPlans[w], p)
			continue
		}
		j := i - browse
		switch {
		case cfg.Mode == "invite" || cfg.Mode == "both" && j%2 == 0:
			p.Kind = kindInvite
		default:
			p.Kind = kindNoInvite
		}
		p.Site = sites[p.Kind]
		cohortPlans[w] = append(cohortPlans[w], p)
	}

	runBusy0, runServer0, runLG0, runT0 := systemBusy(), idle0CPU(srv.pid), selfCPU()+ws.cpu(), time.Now()

	// 1. Hold the browsing visitors' streams.
	time.Sleep(time.Second)
	idle, err := readProc(srv.pid)
	if err != nil {
		return err
	}
	res.Server.Idle = idle.export()
	mIdle, err := srv.metrics()
	if err != nil {
		mIdle = nil
		res.Notes = append(res.Notes, "the server has no /metrics: goroutines come from the SIGQUIT dump only")
	}
	status := func() string {
		p := ws.progress()
		ps, _ := readProc(srv.pid)
		return fmt.Sprintf("held %d, invited %d, forms %d, chatting %d, sent %d, page views %d, alerts %d, errors %d | server RSS %d MB, %d threads, %d fds, CPU %.1f s",
			p.Held, p.Invited, p.Submitted, p.Chatting, p.Sent, p.PageViews, agents.alerts.Load(), p.Errors+agents.errors.Load(),
			ps.RSSKB/1024, ps.Threads, ps.FDs, ps.CPU.Seconds())
	}
	pctx, stopProgress := context.WithCancel(context.Background())
	go watchProgress(pctx, status)
	defer stopProgress()

	logf("phase 1: holding %d browsing visitors' streams, each on its own connection (%s)", browse, plural(nWorkers, "worker process"))
	t := time.Now()
	if _, err := ws.all(func(i int) Cmd { return Cmd{Op: "hold", Visitors: holdPlans[i]} }, 15*time.Minute); err != nil {
		return err
	}
	res.HoldSeconds = time.Since(t).Seconds()
	time.Sleep(time.Second)
	c0, _ := procCPU(srv.pid)
	time.Sleep(2 * time.Second)
	c1, _ := procCPU(srv.pid)
	res.BackgroundCPUPct = pct(c1-c0, 2*time.Second)
	if cfg.Profile && srv.pprof != "" {
		// What holding costs: page views, keep-alives, presence fan-out.
		top, err := cpuProfile(srv.pprof, bin, cfg.Out+"/server-cpu-background.pprof", 5*time.Second)
		if err != nil {
			top = []string{"profile failed: " + err.Error()}
		}
		res.BackgroundProfileTop = top
	}
	held, err := readProc(srv.pid)
	if err != nil {
		return err
	}
	res.Server.Held = held.export()
	heldN := ws.progress().Held
	res.BrowseHeld = heldN
	if heldN > 0 {
		res.MemPerStreamKB = float64(held.RSSKB-idle.RSSKB) / float64(heldN)
		res.ThreadsPerStream = float64(held.Threads-idle.Threads) / float64(heldN)
	}
	if mIdle != nil {
		if mHeld, err := srv.metrics(); err == nil && heldN > 0 {
			g0, g1 := mIdle["go_goroutines"], mHeld["go_goroutines"]
			res.GoroutinesIdle, res.GoroutinesHeld = int(g0), int(g1)
			res.GoroutinesPerHeldStream = (g1 - g0) / float64(heldN)
			res.ServerStreamsOpen = int(mHeld[`proactivechat_streams_open{kind="visitor"}`])
		}
	}
	logf("  %d streams held in %.1f s: server RSS %d → %d MB (%.1f KB per stream), %d connections open",
		heldN, res.HoldSeconds, idle.RSSKB/1024, held.RSSKB/1024, res.MemPerStreamKB, held.FDs)
	if cfg.Presence {
		res.PresenceHold = checkPresence(srv, agents, heldN, 30*time.Second)
		logf("  presence: %s", res.PresenceHold)
	}
	// What the RSS is made of: stacks and live heap, after a collection.
	if srv.pprof != "" && heldN > 0 {
		srv.gcAndSave(cfg.Out + "/server-heap-held.pprof") // what each held stream keeps
		if m, err := srv.metrics(); err == nil {
			s := res.memSample(m, srv.pid)
			res.HoldStackKBPerStream = round((s.StackMB-res.Baseline.StackMB)*1024/float64(heldN), 1)
			res.HoldLiveHeapKBPerStream = round((s.HeapAllocMB-res.Baseline.HeapAllocMB)*1024/float64(heldN), 1)
			logf("  of which stacks %.1f KB and live heap %.1f KB per stream", res.HoldStackKBPerStream, res.HoldLiveHeapKBPerStream)
		}
	}

	// 2. The chat cohort lands and goes through the flows.
	logf("phase 2: %d visitors land on a help page over %v; launch after %v; %s", cfg.Chats, cfg.Ramp, cfg.LaunchAfter, cfg.Mode)
	cohortStart := time.Now().Add(500 * time.Millisecond)
	for w := range cohortPlans {
		for k := range cohortPlans[w] {
			j := cohortPlans[w][k].Index - browse
			cohortPlans[w][k].ArriveAt = cohortStart.Add(time.Duration(int64(cfg.Ramp) * int64(j) / int64(cfg.Chats))).UnixNano()
		}
	}
	flowDeadline := cohortStart.Add(cfg.Ramp + cfg.LaunchAfter + 90*time.Second)
	var flowProf chan []string
	if cfg.Profile && srv.pprof != "" && cfg.Ramp >= 2*time.Second {
		// The flows' own profile: what invitations, forms and routing cost.
		flowProf = make(chan []string, 1)
		go func() {
			time.Sleep(time.Until(cohortStart))
			top, err := cpuProfile(srv.pprof, bin, cfg.Out+"/server-cpu-flows.pprof", cfg.Ramp)
			if err != nil {
				top = []string{"profile failed: " + err.Error()}
			}
			flowProf <- top
		}()
	}
	done, err := ws.all(func(i int) Cmd {
		return Cmd{Op: "cohort", Visitors: cohortPlans[i], End: flowDeadline.UnixNano()}
	}, time.Until(flowDeadline)+30*time.Second)
	if err != nil {
		return err
	}
	for _, e := range done {
		res.Chatting += len(e.Chats)
	}
	if res.Chatting == 0 {
		return fmt.Errorf("no chat started: %v", ws.progress())
	}
	logf("  %d chats started (%d alerts, %d accepted)", res.Chatting, agents.alerts.Load(), agents.accepted.Load())
	if flowProf != nil {
		res.FlowProfileTop = <-flowProf
	}
	time.Sleep(time.Second) // the agents' WatchChat streams open

	// 3. Open-loop messages, then closed-loop throughput.
	phase := func(name string, d time.Duration, interval time.Duration) (PhaseResult, error) {
		start := time.Now().Add(500 * time.Millisecond)
		end := start.Add(d)
		for _, w := range ws {
			if err := w.send(Cmd{Op: "messages", Phase: name, Start: start.UnixNano(), End: end.UnixNano(), Interval: interval}); err != nil {
				return PhaseResult{}, err
			}
		}
		time.Sleep(time.Until(start))
		s0, _ := procCPU(srv.pid)
		l0 := selfCPU() + ws.cpu()
		b0 := systemBusy()
		m0, _ := srv.metrics()
		r0, w0 := procIO(srv.pid)
		var prof chan []string
		if name == "L" && cfg.Profile && srv.pprof != "" && d >= 2*time.Second {
			// The open loop costs several times the closed loop's CPU
			// per message (nothing to batch): its own profile says why.
			go func() {
				// Only saved: its top is not printed, and running pprof here
				// would take the load generator's CPU in the next phase.
				if err := saveProfile(srv.pprof, "profile", cfg.Out+"/server-cpu-open.pprof", d-time.Second); err != nil {
					fmt.Fprintf(os.Stderr, "open-loop profile: %v\n", err)
				}
			}()
		}
		if name == "M" && cfg.Profile && srv.pprof != "" && d >= 2*time.Second {
			prof = make(chan []string, 1)
			go func() {
				top, err := cpuProfile(srv.pprof, bin, cfg.Out+"/server-cpu.pprof", d-time.Second)
				if err != nil {
					top = []string{"profile failed: " + err.Error()}
				}
				prof <- top
			}()
			go func() {
				// Taken alongside the CPU profile and only saved: garbage
				// is a fifth of the message path's CPU, and an allocation
				// profile costs the server next to nothing.
				if err := saveProfile(srv.pprof, "allocs", cfg.Out+"/server-allocs.pprof", d-time.Second); err != nil {
					fmt.Fprintf(os.Stderr, "allocation profile: %v\n", err)
				}
			}()
		}
		time.Sleep(d)
		s1, _ := procCPU(srv.pid)
		l1 := selfCPU() + ws.cpu()
		b1 := systemBusy()
		m1, _ := srv.metrics()
		r1, w1 := procIO(srv.pid)
		if prof != nil {
			res.ProfileTop = <-prof
		}
		var done []Event
		for _, w := range ws {
			e, err := w.wait(2 * time.Minute)
			if err != nil {
				return PhaseResult{}, err
			}
			done = append(done, e)
		}
		pr := PhaseResult{Seconds: d.Seconds()}
		for _, e := range done {
			pr.Sent += e.Sent
			pr.AckedInWindow += e.Acked
		}
		pr.AckedPerS = float64(pr.AckedInWindow) / d.Seconds()
		if m0 != nil && m1 != nil {
			delta := func(k string) float64 { return m1[k] - m0[k] }
			if n := delta("proactivechat_bolt_commit_seconds_count"); n > 0 {
				pr.CommitsPerS = n / d.Seconds()
				pr.MeanCommitMs = 1000 * delta("proactivechat_bolt_commit_seconds_sum") / n
				pr.WriterBusyPct = 100 * delta("proactivechat_bolt_commit_seconds_sum") / d.Seconds()
			}
			if n := delta("proactivechat_bolt_batch_size_count"); n > 0 {
				pr.MeanBatch = delta("proactivechat_bolt_batch_size_sum") / n
			}
			if n := delta("proactivechat_message_latency_seconds_count"); n > 0 {
				pr.ServerMsgMeanMs = 1000 * delta("proactivechat_message_latency_seconds_sum") / n
			}
		}
		pr.ServerCPUPct = pct(s1-s0, d)
		pr.LoadgenCPUPct = pct(l1-l0, d)
		pr.OtherCPUPct = max(0, pct(b1-b0-(s1-s0)-(l1-l0), d))
		if pr.AckedInWindow > 0 {
			pr.ServerReadsPerMsg = round(float64(r1-r0)/float64(pr.AckedInWindow), 1)
			pr.ServerWritesPerMsg = round(float64(w1-w0)/float64(pr.AckedInWindow), 1)
			pr.ServerCPUUsPerMsg = float64((s1 - s0).Microseconds()) / float64(pr.AckedInWindow)
			net := s1 - s0 - time.Duration(float64(d)*res.BackgroundCPUPct/100)
			pr.ServerCPUUsPerMsgNet = float64(net.Microseconds()) / float64(pr.AckedInWindow)
		}
		return pr, nil
	}
	interval := time.Duration(float64(res.Chatting) / cfg.Rate * float64(time.Second))
	logf("phase 3: %d chats send %.0f msg/s in all (one every %v each), open loop, for %v", res.Chatting, cfg.Rate, interval.Round(time.Millisecond), cfg.Duration)
	if res.OpenLoop, err = phase("L", cfg.Duration, interval); err != nil {
		return err
	}
	time.Sleep(time.Second)
	agents.replyOn.Store(false)
	if cfg.MaxDuration > 0 {
		logf("phase 4: closed loop for %v: each chat sends its next message as soon as the last is acknowledged", cfg.MaxDuration)
		pr, err := phase("M", cfg.MaxDuration, 0)
		if err != nil {
			return err
		}
		res.ClosedLoop = &pr
		time.Sleep(time.Second)
	}

	// 4. Reconnect storm.
	logf("phase 5: reconnect storm: every visitor's connection dropped at once")
	if _, err := ws.all(func(int) Cmd { return Cmd{Op: "drop"} }, time.Minute); err != nil {
		return err
	}
	targets, backlog := agents.stormBacklog(cfg.StormMsgs)
	res.Storm.Backlog = backlog
	logf("  agents wrote %d messages meanwhile; all %d visitors reconnect and resume now", backlog, cfg.Visitors)
	stormStart := time.Now()
	if _, err := ws.all(func(int) Cmd { return Cmd{Op: "resume", Targets: targets} }, 3*time.Minute); err != nil {
		return err
	}
	logf("  storm over in %.2f s", time.Since(stormStart).Seconds())
	if m, err := srv.metrics(); err == nil {
		res.Storm.MassDisconnects = int(m["proactivechat_mass_disconnects_total"])
	}
	time.Sleep(2 * time.Second)
	if cfg.MuxStreams > 0 {
		if err := runMux(cfg, res, srv, ws, agents, sites[kindBrowse], siteIDs); err != nil {
			return err
		}
	}
	final, err := readProc(srv.pid)
	if err != nil {
		return err
	}
	res.Server.Final = final.export()
	{
		elapsed := time.Since(runT0)
		other := systemBusy() - runBusy0 - (final.CPU - runServer0) - (selfCPU() + ws.cpu() - runLG0)
		res.OtherCPUPct = max(0, pct(other, elapsed))
		if res.OtherCPUPct > 10 {
			res.Notes = append(res.Notes, fmt.Sprintf("other processes on the machine used %.0f%% of a core on average during the run: the figures are disturbed", res.OtherCPUPct))
		}
	}
	stopProgress()

	// Collect.
	reports, err := ws.all(func(int) Cmd { return Cmd{Op: "report"} }, time.Minute)
	if err != nil {
		return err
	}
	res.collect(cfg, reports, agents, stormStart)

	// Goroutines with every stream held, from a dump of them all.
	res.StreamsAtDump = cfg.Visitors + cfg.Agents + res.Chatting
	if cfg.Presence {
		res.StreamsAtDump += cfg.Agents
	}
	dumped := false
	if total, by, ok, err := srv.liveGoroutineDump(); ok && err == nil {
		dumped = true
		res.Goroutines = total
		res.GoroutinesByCreator = topN(by, 6)
		res.GoroutinesPerStream = float64(total) / float64(res.StreamsAtDump)
	}

	// 7. Everyone leaves: the server must let go of what they held.
	logf("phase 7: every client leaves; waiting for the server to notice (presence grace included)")
	if _, err := ws.all(func(int) Cmd { return Cmd{Op: "drop"} }, time.Minute); err != nil {
		return err
	}
	agents.close()
	res.Leave = leave(srv, cfg.LeaveWait, cfg.Out+"/server-heap-left.pprof")
	logf("  %s", res.Leave.String(res.Baseline))

	// Goroutines left, from the dump SIGQUIT makes the server print as it
	// exits (the only dump a server without pprof gives: then it counts
	// what is left, not what the streams held).
	total, by, err := srv.goroutineDump()
	serverAlive = false
	switch {
	case err != nil:
		res.Notes = append(res.Notes, "goroutine dump failed: "+err.Error())
	case dumped:
		res.Leave.GoroutinesByCreator = topN(by, 6)
	default:
		res.Goroutines = total
		res.GoroutinesByCreator = topN(by, 6)
		res.GoroutinesPerStream = float64(total) / float64(res.StreamsAtDump)
		res.Notes = append(res.Notes, "the server has no pprof: goroutines by creator were counted after every client left")
	}
	res.finish()
	res.printTable(os.Stdout)
	return res.write(cfg.Out)
}

func createSites(ctx context.Context, admin pb.AdminServiceClient, cfg Config) (map[string]string, error) {
	sites := map[string]string{}
	mk := func(kind string, mode pb.ProactiveChatMode) error {
		pc := &pb.ProactiveChatSettings{
			Enabled: true, Mode: mode, LaunchAfterSeconds: uint32(cfg.LaunchAfter / time.Second),
			IncludePages: []string{includeGlob},
		}
		if mode == pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITH_INVITE {
			pc.InviteText = "Hi! Any questions? We are here to help."
			pc.FormFields = []*pb.FormField{
				{Key: "name", Label: "Name", Type: pb.FormFieldType_FORM_FIELD_TYPE_TEXT, Required: true},
				{Key: "email", Label: "E-mail", Type: pb.FormFieldType_FORM_FIELD_TYPE_EMAIL, Required: true},
				{Key: "question", Label: "Question", Type: pb.FormFieldType_FORM_FIELD_TYPE_TEXTAREA},
			}
		}
		withRules(pc, cfg.Rules)
		resp, err := admin.CreateSite(ctx, &pb.CreateSiteRequest{Name: "Bench " + kind, AllowedOrigins: []string{"https://shop.example"}, ProactiveChat: pc})
		if err != nil {
			return fmt.Errorf("CreateSite: %w", err)
		}
		sites[kind] = resp.GetSite().GetId()
		return nil
	}
	if cfg.Mode != "noinvite" {
		if err := mk(kindInvite, pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITH_INVITE); err != nil {
			return nil, err
		}
	}
	if cfg.Mode != "invite" {
		if err := mk(kindNoInvite, pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE); err != nil {
			return nil, err
		}
	}
	if cfg.LaunchTimers {
		pc := &pb.ProactiveChatSettings{
			Enabled: true, Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE,
			LaunchAfterSeconds: uint32(cfg.BrowseLaunchAfter / time.Second), // every page, but not during the run
		}
		withRules(pc, cfg.Rules)
		resp, err := admin.CreateSite(ctx, &pb.CreateSiteRequest{Name: "Bench browse", AllowedOrigins: []string{"https://shop.example"},
			ProactiveChat: pc})
		if err != nil {
			return nil, fmt.Errorf("CreateSite: %w", err)
		}
		sites[kindBrowse] = resp.GetSite().GetId()
	}
	return sites, nil
}

func idle0CPU(pid int) time.Duration {
	c, _ := procCPU(pid)
	return c
}

// waitQuiet waits until the machine is idle: other processes (tests,
// builds) would take CPU from the server or the load generator.
func waitQuiet(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		b0 := systemBusy()
		time.Sleep(5 * time.Second)
		busy := pct(systemBusy()-b0, 5*time.Second)
		if busy < 10 {
			logf("the machine is idle (%.0f%% of a core busy)", busy)
			return
		}
		if time.Now().After(deadline) {
			logf("the machine is still busy (%.0f%% of a core): measuring anyway", busy)
			return
		}
		logf("waiting for the machine to be idle: %.0f%% of a core busy", busy)
	}
}

// checkPresence waits until the server counts want visitors online and
// every agent's presence stream agrees, or until timeout.
func checkPresence(srv *serverProc, agents *agentPool, want int, timeout time.Duration) *PresenceCheck {
	pc := &PresenceCheck{Expected: want}
	start := time.Now()
	for {
		if m, err := srv.metrics(); err == nil {
			pc.ServerOnline = int(sumPrefix(m, "proactivechat_visitors_online{"))
		}
		views := agents.presenceViews()
		if len(views) > 0 {
			pc.AgentsMin, pc.AgentsMax = views[0], views[len(views)-1]
		}
		pc.Agents = len(views)
		pc.Correct = pc.ServerOnline == want && (len(views) == 0 || pc.AgentsMin == want && pc.AgentsMax == want)
		pc.Seconds = round(time.Since(start).Seconds(), 1)
		if pc.Correct || time.Since(start) > timeout {
			return pc
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// runMux is phase 6: -mux-streams more visitor streams over -mux-conns
// connections, as an L7 proxy in front of the server would carry them;
// then they go, and the server must return to where it was.
func runMux(cfg Config, res *Results, srv *serverProc, ws workerSet, agents *agentPool, site string, siteIDs []string) error {
	if site == "" {
		site = siteIDs[0]
	}
	mx := &MuxResult{Streams: cfg.MuxStreams, Conns: cfg.MuxConns}
	res.Mux = mx
	logf("phase 6: %d more visitor streams over %d HTTP/2 connections, as behind an L7 proxy", cfg.MuxStreams, cfg.MuxConns)
	m0, err := srv.metrics()
	if err != nil {
		return err
	}
	online0 := int(sumPrefix(m0, "proactivechat_visitors_online{"))
	p0, _ := readProc(srv.pid)
	srv.gc()
	m0gc, _ := srv.metrics()
	mx.Before = res.memSample(m0gc, srv.pid)
	mx.Before.RSSMB = round(float64(p0.RSSKB)/1024, 1)
	n := len(ws)
	t := time.Now()
	done, err := ws.all(func(i int) Cmd {
		return Cmd{Op: "mux", MuxSite: site, MuxStreams: cfg.MuxStreams/n + btoi(i < cfg.MuxStreams%n), MuxConns: cfg.MuxConns/n + btoi(i < cfg.MuxConns%n)}
	}, 30*time.Minute)
	if err != nil {
		return err
	}
	mx.OpenSeconds = round(time.Since(t).Seconds(), 1)
	for _, e := range done {
		mx.Held += e.Held
	}
	logf("  %d streams held in %.1f s", mx.Held, mx.OpenSeconds)
	if cfg.Presence {
		mx.Presence = checkPresence(srv, agents, online0+mx.Held, 2*time.Minute)
		logf("  presence: %s", mx.Presence)
	}
	time.Sleep(2 * time.Second)
	p1, _ := readProc(srv.pid)
	m1, _ := srv.metrics()
	srv.gc()
	m1gc, _ := srv.metrics()
	mx.Held1 = res.memSample(m1gc, srv.pid)
	mx.Held1.RSSMB = round(float64(p1.RSSKB)/1024, 1)
	if mx.Held > 0 {
		k := float64(mx.Held)
		mx.KBPerStream = round(float64(p1.RSSKB-p0.RSSKB)/k, 1)
		mx.GoroutinesPerStream = round((m1["go_goroutines"]-m0["go_goroutines"])/k, 2)
		mx.StackKBPerStream = round((m1gc["go_memstats_stack_inuse_bytes"]-m0gc["go_memstats_stack_inuse_bytes"])/1024/k, 1)
		mx.LiveHeapKBPerStream = round((m1gc["go_memstats_heap_alloc_bytes"]-m0gc["go_memstats_heap_alloc_bytes"])/1024/k, 1)
	}
	logf("  server RSS %.0f → %.0f MB: %.1f KB per stream (stacks %.1f KB, live heap %.1f KB), %.2f goroutines per stream",
		mx.Before.RSSMB, mx.Held1.RSSMB, mx.KBPerStream, mx.StackKBPerStream, mx.LiveHeapKBPerStream, mx.GoroutinesPerStream)

	// They go: the server must count them gone after the presence grace,
	// and let go of their goroutines and memory.
	if _, err := ws.all(func(int) Cmd { return Cmd{Op: "mux-drop"} }, 5*time.Minute); err != nil {
		return err
	}
	t = time.Now()
	for time.Since(t) < cfg.LeaveWait {
		m, err := srv.metrics()
		if err == nil && int(sumPrefix(m, "proactivechat_visitors_online{")) <= online0 && m["go_goroutines"] <= m0["go_goroutines"]+5 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	mx.GoneSeconds = round(time.Since(t).Seconds(), 1)
	srv.gcAndSave(cfg.Out + "/server-heap-mux-gone.pprof") // what the multiplexed streams left behind
	m2, _ := srv.metrics()
	mx.After = res.memSample(m2, srv.pid)
	logf("  gone after %.1f s: %d visitors online (%d before), %d goroutines (%d before), live heap %.0f MB (%.0f MB before)",
		mx.GoneSeconds, mx.After.VisitorsOnline, mx.Before.VisitorsOnline, mx.After.Goroutines, mx.Before.Goroutines, mx.After.HeapAllocMB, mx.Before.HeapAllocMB)
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// leave waits until the server has no visitor online and no stream open
// (every client closed its connections), collects garbage and samples it.
func leave(srv *serverProc, wait time.Duration, heapProfile string) *LeaveResult {
	lr := &LeaveResult{}
	t := time.Now()
	for time.Since(t) < wait {
		m, err := srv.metrics()
		if err == nil && sumPrefix(m, "proactivechat_visitors_online{") == 0 && sumPrefix(m, "proactivechat_streams_open{") == 0 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	lr.Seconds = round(time.Since(t).Seconds(), 1)
	time.Sleep(time.Second)    // the last departures' writes
	srv.gcAndSave(heapProfile) // what is left once everyone left
	if m, err := srv.metrics(); err == nil {
		lr.After = (&Results{}).memSample(m, srv.pid)
		lr.StreamsOpen = int(sumPrefix(m, "proactivechat_streams_open{"))
	}
	return lr
}

// withRules turns a site's launching criterion into the last of n trigger
// rules (n > 0); the n-1 before it hold for nobody in the run, though each
// is evaluated: a page count nobody reaches, a cart value nobody has, a
// device, a scroll depth, exit intent, a referrer and an hour on the site
// (which makes each a candidate for the visitor's timer).
func withRules(pc *pb.ProactiveChatSettings, n int) {
	if n <= 0 {
		return
	}
	last := &pb.TriggerRule{Name: "criterion", Enabled: true, Mode: pc.GetMode(), InviteText: pc.GetInviteText(), FormFields: pc.GetFormFields(),
		Conditions: &pb.TriggerConditions{MinSecondsOnSite: pc.GetLaunchAfterSeconds(), IncludePages: pc.GetIncludePages()}}
	pc.Mode, pc.LaunchAfterSeconds, pc.InviteText, pc.FormFields, pc.IncludePages = 0, 0, "", nil, nil
	for i := range n - 1 {
		pc.Rules = append(pc.Rules, &pb.TriggerRule{Name: fmt.Sprintf("decoy %d", i+1), Enabled: true, Mode: last.GetMode(),
			InviteText: last.GetInviteText(), FormFields: last.GetFormFields(),
			Conditions: &pb.TriggerConditions{
				MinSecondsOnSite: 3600, MinPagesViewed: 1000, MinScrollPercent: 50, ExitIntent: true,
				Attributes:    []*pb.AttributeCondition{{Key: "cart_value", Operator: pb.AttributeOperator_ATTRIBUTE_OPERATOR_GREATER_THAN, Value: "100"}},
				Devices:       []pb.DeviceClass{pb.DeviceClass_DEVICE_CLASS_DESKTOP},
				ReferrerHosts: []string{"*.example.org"},
				IncludePages:  []string{"https://shop.example/*"},
			}})
	}
	pc.Rules = append(pc.Rules, last)
}
