"""Forward-only schema migrations, numbered by SQLite's `user_version`.

A migration is never edited once released: add a new one instead, so every
existing database can be brought to the current shape in order.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: feeds, articles with FTS5, subscriptions, deliveries, threads, Q&A turns
    """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        title TEXT,
        etag TEXT,
        last_modified TEXT,
        next_poll_at TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        last_success_at TEXT,
        last_attempt_at TEXT,
        is_default INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );

    -- A feed one workspace's channel subscribed to (the defaults are is_default).
    CREATE TABLE workspace_feeds (
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        channel TEXT NOT NULL DEFAULT '',
        added_by TEXT,
        added_at TEXT NOT NULL,
        PRIMARY KEY (platform, workspace, feed_id)
    );

    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        guid TEXT,
        url TEXT NOT NULL,
        canonical_url TEXT NOT NULL,
        title TEXT NOT NULL,
        source TEXT NOT NULL,
        published_at TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        text TEXT NOT NULL,
        is_full_text INTEGER NOT NULL,
        content_hash TEXT NOT NULL
    );
    CREATE UNIQUE INDEX articles_canonical_url ON articles(canonical_url);
    CREATE UNIQUE INDEX articles_content_hash ON articles(content_hash);
    CREATE INDEX articles_published_at ON articles(published_at);

    -- Which feeds carried an article (dedupe keeps one row, every feed keeps its link).
    CREATE TABLE article_feeds (
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        guid TEXT,
        PRIMARY KEY (article_id, feed_id)
    );
    CREATE UNIQUE INDEX article_feeds_guid ON article_feeds(feed_id, guid)
        WHERE guid IS NOT NULL;
    CREATE INDEX article_feeds_feed ON article_feeds(feed_id);

    CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, text,
        content='articles', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END;
    CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, text)
            VALUES ('delete', old.id, old.title, old.text);
    END;
    CREATE TRIGGER articles_au AFTER UPDATE OF title, text ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, text)
            VALUES ('delete', old.id, old.title, old.text);
        INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END;

    CREATE TABLE subscriptions (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        channel TEXT NOT NULL,
        topics TEXT NOT NULL DEFAULT '[]',
        digest_time TEXT NOT NULL,
        timezone TEXT NOT NULL,
        last_digest_at TEXT,
        enabled INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (platform, workspace, channel)
    );

    -- One row per post that must happen at most once (a day's digest, a command).
    CREATE TABLE deliveries (
        key TEXT PRIMARY KEY,
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        channel TEXT NOT NULL,
        status TEXT NOT NULL,
        message_ref TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE threads (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        channel TEXT NOT NULL,
        thread_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        article_ids TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (platform, workspace, channel, thread_key)
    );

    CREATE TABLE qa_turns (
        id INTEGER PRIMARY KEY,
        thread_id INTEGER NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        article_ids TEXT NOT NULL DEFAULT '[]',
        asked_at TEXT NOT NULL
    );
    CREATE INDEX qa_turns_thread ON qa_turns(thread_id, id);
    """,
    # 2: model output cache and a ledger of model calls (tokens, failures, cache hits)
    """
    -- Keyed by hash(input text + model + prompt version): one summary per article, ever.
    CREATE TABLE llm_cache (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_version TEXT NOT NULL,
        output TEXT NOT NULL,
        created_at TEXT NOT NULL
    );

    CREATE TABLE llm_calls (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_version TEXT NOT NULL,
        status TEXT NOT NULL,
        tokens_in INTEGER NOT NULL DEFAULT 0,
        tokens_out INTEGER NOT NULL DEFAULT 0,
        latency_ms INTEGER NOT NULL DEFAULT 0,
        error TEXT
    );
    CREATE INDEX llm_calls_at ON llm_calls(at);
    """,
    # 3: the setting that made a feed fail, so changing it retries the feed at once
    """
    ALTER TABLE feeds ADD COLUMN blocked_by TEXT;
    """,
    # 4: claims checked against their sources, re-cited and dropped, for `stats`
    """
    CREATE TABLE claim_checks (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        checked INTEGER NOT NULL,
        recited INTEGER NOT NULL,
        dropped INTEGER NOT NULL,
        fallbacks INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX claim_checks_at ON claim_checks(at);
    """,
    # 5: stories stored: each article in one, reprints folded into the article they copy
    """
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX stories_last_seen ON stories(last_seen);
    ALTER TABLE articles ADD COLUMN story_id INTEGER REFERENCES stories(id);
    -- Articles stored before stories were: a story each.
    INSERT INTO stories (id, first_seen, last_seen)
        SELECT id, published_at, published_at FROM articles;
    UPDATE articles SET story_id = id;
    CREATE INDEX articles_story ON articles(story_id);
    -- Another outlet's copy of an article's wire text: a source of that article.
    CREATE TABLE reprints (
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        canonical_url TEXT NOT NULL,
        url TEXT NOT NULL,
        source TEXT NOT NULL,
        published_at TEXT NOT NULL,
        PRIMARY KEY (article_id, canonical_url)
    );
    CREATE UNIQUE INDEX reprints_canonical_url ON reprints(canonical_url);
    -- What story placement needs of an article, kept while its story can still grow.
    CREATE TABLE article_prints (
        article_id INTEGER PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        data TEXT NOT NULL,
        shingles BLOB NOT NULL
    );
    -- The version of each story a channel was last shown, and the thread it is under.
    CREATE TABLE story_posts (
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        channel TEXT NOT NULL,
        story_id INTEGER NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        thread_key TEXT NOT NULL,
        posted_at TEXT NOT NULL,
        PRIMARY KEY (platform, workspace, channel, story_id)
    );
    """,
    # 6: an outbox: each delivery's rendered parts, each with its own state, and leases
    """
    ALTER TABLE deliveries ADD COLUMN thread_key TEXT;
    ALTER TABLE deliveries ADD COLUMN shows TEXT;
    ALTER TABLE deliveries ADD COLUMN due_at TEXT;
    ALTER TABLE deliveries ADD COLUMN late_after TEXT;
    ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
    ALTER TABLE deliveries ADD COLUMN lease_until TEXT;
    ALTER TABLE deliveries ADD COLUMN retry_at TEXT;
    ALTER TABLE deliveries ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE deliveries ADD COLUMN late_reported INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE deliveries ADD COLUMN error TEXT;
    -- Before the outbox a claim stayed 'pending' for good. A reply's claim is only a
    -- claim; a digest interrupted then has no parts to resume: it is made again (the
    -- scheduler's catch-up, within its grace period).
    UPDATE deliveries SET status = 'claimed' WHERE status = 'pending' AND key NOT LIKE 'digest:%';
    DELETE FROM deliveries WHERE status = 'pending';
    CREATE INDEX deliveries_pending ON deliveries(retry_at) WHERE status = 'pending';
    CREATE TABLE delivery_parts (
        delivery_key TEXT NOT NULL REFERENCES deliveries(key) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        sending_since TEXT,
        message_id TEXT,
        thread_key TEXT,
        sent_at TEXT,
        PRIMARY KEY (delivery_key, idx)
    );
    """,
    # 7: feed leases, so processes sharing a database fetch each feed once per interval
    """
    ALTER TABLE feeds ADD COLUMN lease_owner TEXT;
    ALTER TABLE feeds ADD COLUMN lease_until TEXT;
    """,
    # 8: feed-down alerts: since when a feed fails, why it was paused, and what each
    # following channel was last told
    """
    ALTER TABLE feeds ADD COLUMN failing_since TEXT;
    ALTER TABLE feeds ADD COLUMN paused TEXT;
    ALTER TABLE feeds ADD COLUMN paused_at TEXT;
    ALTER TABLE workspace_feeds ADD COLUMN alerted TEXT;
    UPDATE feeds SET failing_since = coalesce(last_attempt_at, created_at)
        WHERE consecutive_failures > 0;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
