package domain

// scheduleInactivity arms a chat's inactivity timer from its last activity:
// first the warning, then the end.
func (s *Service) scheduleInactivity(chat *Chat, pc ProactiveChatSettings) {
	warnAt := chat.inactiveAt(pc).Add(-pc.InactivityWarning())
	s.timers.at("idle/"+chat.ID, warnAt, func() { s.checkInactivity(chat.ID) })
}

// checkInactivity warns both sides of a quiet chat, or ends it as inactive
// once the timeout has passed since the last activity.
func (s *Service) checkInactivity(chatID string) {
	err := s.update(s.ctx, func(tx WriteTx) error {
		chat, err := tx.Chat(chatID)
		if err != nil || chat.State != ChatStateActive {
			return err
		}
		site, err := tx.Site(chat.SiteID)
		if err != nil {
			return err
		}
		pc := site.ProactiveChat
		now := s.clock.Now()
		endAt := chat.inactiveAt(pc)
		if !now.Before(endAt) {
			p := chat.Visitor
			if chat.hasLeft(RoleVisitor) {
				p = chat.Agent
			}
			return s.leave(tx, chat, p, EndInactive)
		}
		if now.Before(endAt.Add(-pc.InactivityWarning())) {
			// Activity moved it: only the timer changes.
			return afterCommit(tx, func() { s.scheduleInactivity(chat, pc) })
		}
		last, err := tx.ChatEvents(chat.ID, chat.LastSeq-1, 1)
		if err != nil {
			return err
		}
		if len(last) == 0 || last[0].InactivityWarning == nil {
			// Its chat.inactivity_warning arms the timer for the end.
			warn := s.nextEvent(chat, now)
			warn.InactivityWarning = &InactivityWarning{EndTime: endAt}
			_, err := s.putAll(tx, chat, nil, nil, &warn)
			return err
		}
		// Warned already (the timer ran early): only the timer changes.
		return afterCommit(tx, func() {
			s.timers.at("idle/"+chat.ID, endAt, func() { s.checkInactivity(chat.ID) })
		})
	})
	if err != nil && s.ctx.Err() == nil && !s.timers.retry("idle/"+chatID, err, func() { s.checkInactivity(chatID) }) {
		s.log.Error("inactivity check failed", "chat", chatID, "err", err)
	}
}
