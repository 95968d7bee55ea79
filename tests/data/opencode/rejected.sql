-- Written by the real OpenCode 1.18.33 (scripts/capture_opencode.py); tables session, message, part, event.
CREATE TABLE `event` (
          `id` text PRIMARY KEY,
          `aggregate_id` text NOT NULL,
          `seq` integer NOT NULL,
          `type` text NOT NULL,
          `data` text NOT NULL,
          CONSTRAINT `fk_event_aggregate_id_event_sequence_aggregate_id_fk` FOREIGN KEY (`aggregate_id`) REFERENCES `event_sequence`(`aggregate_id`) ON DELETE CASCADE
        );
INSERT INTO "event" VALUES('evt_240a321d1001CqecYSkrZwVvVj','ses_dbf5cde30ffeqaaWA4vqzZpm4k',0,'session.created.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","info":{"id":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","slug":"brave-forest","projectID":"global","directory":"/tmp/tmpnwwc07d4/acme-api","path":"tmp/tmpnwwc07d4/acme-api","cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}},"title":"New session - 2026-12-04T10:39:22.575Z","version":"1.18.33","time":{"created":1796380762575,"updated":1796380762575}}}');
INSERT INTO "event" VALUES('evt_240a32233001ZTh6d3u4MpmBQm','ses_dbf5cde30ffeqaaWA4vqzZpm4k',1,'session.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","info":{"id":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","slug":"brave-forest","projectID":"global","directory":"/tmp/tmpnwwc07d4/acme-api","path":"tmp/tmpnwwc07d4/acme-api","cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}},"title":"New session - 2026-12-04T10:39:22.575Z","agent":"build","model":{"id":"m","providerID":"scripted","variant":"default"},"version":"1.18.33","time":{"created":1796380762575,"updated":1796380762673}}}');
INSERT INTO "event" VALUES('evt_240a3223d001rZeEuS489Urd5j','ses_dbf5cde30ffeqaaWA4vqzZpm4k',2,'message.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","info":{"id":"msg_240a322310017qE8cxPkPxHT21","sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","role":"user","time":{"created":1796380762673},"agent":"build","model":{"providerID":"scripted","modelID":"m"}}}');
INSERT INTO "event" VALUES('evt_240a326d8001mIke3QjxahkAcF','ses_dbf5cde30ffeqaaWA4vqzZpm4k',3,'message.part.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","part":{"id":"prt_240a3223b001H35XublbiTKtrV","sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","messageID":"msg_240a322310017qE8cxPkPxHT21","type":"text","text":"clean the build folder"},"time":1796380763864}');
INSERT INTO "event" VALUES('evt_240a326e2001saslf1adIJF0av','ses_dbf5cde30ffeqaaWA4vqzZpm4k',4,'session.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","info":{"id":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","slug":"brave-forest","projectID":"global","directory":"/tmp/tmpnwwc07d4/acme-api","path":"tmp/tmpnwwc07d4/acme-api","cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}},"title":"New session - 2026-12-04T10:39:22.575Z","agent":"build","model":{"id":"m","providerID":"scripted","variant":"default"},"version":"1.18.33","time":{"created":1796380762575,"updated":1796380763873}}}');
INSERT INTO "event" VALUES('evt_240a326f4001AIR9mzFevzXcKl','ses_dbf5cde30ffeqaaWA4vqzZpm4k',5,'message.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","info":{"id":"msg_240a326f3001qgd4pjxe8sun46","sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","role":"assistant","time":{"created":1796380763891},"parentID":"msg_240a322310017qE8cxPkPxHT21","modelID":"m","providerID":"scripted","mode":"build","agent":"build","path":{"cwd":"/tmp/tmpnwwc07d4/acme-api","root":"/"},"cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}}}}');
INSERT INTO "event" VALUES('evt_240a32737001UgVymjW10WcAsJ','ses_dbf5cde30ffeqaaWA4vqzZpm4k',6,'session.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","info":{"id":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","slug":"brave-forest","projectID":"global","directory":"/tmp/tmpnwwc07d4/acme-api","path":"tmp/tmpnwwc07d4/acme-api","summary":{"additions":0,"deletions":0,"files":0},"cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}},"title":"New session - 2026-12-04T10:39:22.575Z","agent":"build","model":{"id":"m","providerID":"scripted","variant":"default"},"version":"1.18.33","time":{"created":1796380762575,"updated":1796380763957}}}');
INSERT INTO "event" VALUES('evt_240a32740001JBkJnXzVfQXMjN','ses_dbf5cde30ffeqaaWA4vqzZpm4k',7,'message.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","info":{"id":"msg_240a322310017qE8cxPkPxHT21","sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","role":"user","time":{"created":1796380762673},"summary":{"diffs":[]},"agent":"build","model":{"providerID":"scripted","modelID":"m"}}}');
INSERT INTO "event" VALUES('evt_240a3279f0013fEpJWiXnNFauf','ses_dbf5cde30ffeqaaWA4vqzZpm4k',8,'session.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","info":{"id":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","slug":"brave-forest","projectID":"global","directory":"/tmp/tmpnwwc07d4/acme-api","path":"tmp/tmpnwwc07d4/acme-api","summary":{"additions":0,"deletions":0,"files":0},"cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}},"title":"Run the scripted command","agent":"build","model":{"id":"m","providerID":"scripted","variant":"default"},"version":"1.18.33","time":{"created":1796380762575,"updated":1796380763957}}}');
INSERT INTO "event" VALUES('evt_240a32ae0001RwPMuBPISEZAUI','ses_dbf5cde30ffeqaaWA4vqzZpm4k',9,'message.part.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","part":{"id":"prt_240a32adf001T3618im6XhuLaD","sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","messageID":"msg_240a326f3001qgd4pjxe8sun46","type":"step-start"},"time":1796380764896}');
INSERT INTO "event" VALUES('evt_240a32ae4001THMNSiNfVoU1xj','ses_dbf5cde30ffeqaaWA4vqzZpm4k',10,'message.part.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","part":{"id":"prt_240a32ae4001fbDhjPK4AtvOb5","sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","messageID":"msg_240a326f3001qgd4pjxe8sun46","type":"text","text":"","time":{"start":1796380764900}},"time":1796380764900}');
INSERT INTO "event" VALUES('evt_240a32aea001e0Qywlgk4HHSzO','ses_dbf5cde30ffeqaaWA4vqzZpm4k',11,'message.part.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","part":{"id":"prt_240a32aea001c8NWzpKpUbOr4U","sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","messageID":"msg_240a326f3001qgd4pjxe8sun46","type":"tool","callID":"call_1","tool":"bash","state":{"status":"pending","input":{},"raw":""}},"time":1796380764906}');
INSERT INTO "event" VALUES('evt_240a32afb001O5jkt6Njwb6K9D','ses_dbf5cde30ffeqaaWA4vqzZpm4k',12,'message.part.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","part":{"id":"prt_240a32aea001c8NWzpKpUbOr4U","sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","messageID":"msg_240a326f3001qgd4pjxe8sun46","type":"tool","callID":"call_1","tool":"bash","state":{"status":"running","input":{"command":"rm -rf build","description":"scripted"},"time":{"start":1796380764922}}},"time":1796380764922}');
INSERT INTO "event" VALUES('evt_240a32b050013eWSHpfrUKQMUi','ses_dbf5cde30ffeqaaWA4vqzZpm4k',13,'message.part.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","part":{"id":"prt_240a32ae4001fbDhjPK4AtvOb5","sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","messageID":"msg_240a326f3001qgd4pjxe8sun46","type":"text","text":"Let me run it:","time":{"start":1796380764900,"end":1796380764933}},"time":1796380764933}');
INSERT INTO "event" VALUES('evt_240a343070019oSHNWR0fnS4Iz','ses_dbf5cde30ffeqaaWA4vqzZpm4k',14,'message.part.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","part":{"id":"prt_240a32aea001c8NWzpKpUbOr4U","sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","messageID":"msg_240a326f3001qgd4pjxe8sun46","type":"tool","callID":"call_1","tool":"bash","state":{"status":"error","input":{"command":"rm -rf build","description":"scripted"},"error":"The user rejected permission to use this specific tool call.","time":{"start":1796380764922,"end":1796380771078}}},"time":1796380771079}');
INSERT INTO "event" VALUES('evt_240a34311001t21iYE0Obpv9vH','ses_dbf5cde30ffeqaaWA4vqzZpm4k',15,'message.part.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","part":{"id":"prt_240a34310001tcl2KbJCfGrwmU","sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","messageID":"msg_240a326f3001qgd4pjxe8sun46","type":"step-finish","reason":"tool-calls","cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}}},"time":1796380771089}');
INSERT INTO "event" VALUES('evt_240a34315001d9DqvAlJFVjg4j','ses_dbf5cde30ffeqaaWA4vqzZpm4k',16,'message.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","info":{"id":"msg_240a326f3001qgd4pjxe8sun46","sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","role":"assistant","time":{"created":1796380763891},"parentID":"msg_240a322310017qE8cxPkPxHT21","modelID":"m","providerID":"scripted","mode":"build","agent":"build","path":{"cwd":"/tmp/tmpnwwc07d4/acme-api","root":"/"},"cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}},"finish":"tool-calls"}}');
INSERT INTO "event" VALUES('evt_240a3431d001M3pGqc54JIbn4e','ses_dbf5cde30ffeqaaWA4vqzZpm4k',17,'message.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","info":{"id":"msg_240a326f3001qgd4pjxe8sun46","sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","role":"assistant","time":{"created":1796380763891,"completed":1796380771101},"parentID":"msg_240a322310017qE8cxPkPxHT21","modelID":"m","providerID":"scripted","mode":"build","agent":"build","path":{"cwd":"/tmp/tmpnwwc07d4/acme-api","root":"/"},"cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}},"finish":"tool-calls"}}');
INSERT INTO "event" VALUES('evt_240a3432c001f6zNQTf7GAOqSk','ses_dbf5cde30ffeqaaWA4vqzZpm4k',18,'session.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","info":{"id":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","slug":"brave-forest","projectID":"global","directory":"/tmp/tmpnwwc07d4/acme-api","path":"tmp/tmpnwwc07d4/acme-api","summary":{"additions":0,"deletions":0,"files":0},"cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}},"title":"Run the scripted command","agent":"build","model":{"id":"m","providerID":"scripted","variant":"default"},"version":"1.18.33","time":{"created":1796380762575,"updated":1796380771114}}}');
INSERT INTO "event" VALUES('evt_240a343320017cJIYjLXV5anq9','ses_dbf5cde30ffeqaaWA4vqzZpm4k',19,'message.updated.1','{"sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","info":{"id":"msg_240a322310017qE8cxPkPxHT21","sessionID":"ses_dbf5cde30ffeqaaWA4vqzZpm4k","role":"user","time":{"created":1796380762673},"summary":{"diffs":[]},"agent":"build","model":{"providerID":"scripted","modelID":"m"}}}');
CREATE TABLE `message` (
          `id` text PRIMARY KEY,
          `session_id` text NOT NULL,
          `time_created` integer NOT NULL,
          `time_updated` integer NOT NULL,
          `data` text NOT NULL,
          CONSTRAINT `fk_message_session_id_session_id_fk` FOREIGN KEY (`session_id`) REFERENCES `session`(`id`) ON DELETE CASCADE
        );
INSERT INTO "message" VALUES('msg_240a322310017qE8cxPkPxHT21','ses_dbf5cde30ffeqaaWA4vqzZpm4k',1796380762673,1796380771123,'{"role":"user","time":{"created":1796380762673},"agent":"build","model":{"providerID":"scripted","modelID":"m"},"summary":{"diffs":[]}}');
INSERT INTO "message" VALUES('msg_240a326f3001qgd4pjxe8sun46','ses_dbf5cde30ffeqaaWA4vqzZpm4k',1796380763891,1796380771103,'{"parentID":"msg_240a322310017qE8cxPkPxHT21","role":"assistant","mode":"build","agent":"build","path":{"cwd":"/tmp/tmpnwwc07d4/acme-api","root":"/"},"cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"write":0,"read":0}},"modelID":"m","providerID":"scripted","time":{"created":1796380763891,"completed":1796380771101},"finish":"tool-calls"}');
CREATE TABLE `part` (
          `id` text PRIMARY KEY,
          `message_id` text NOT NULL,
          `session_id` text NOT NULL,
          `time_created` integer NOT NULL,
          `time_updated` integer NOT NULL,
          `data` text NOT NULL,
          CONSTRAINT `fk_part_message_id_message_id_fk` FOREIGN KEY (`message_id`) REFERENCES `message`(`id`) ON DELETE CASCADE
        );
INSERT INTO "part" VALUES('prt_240a3223b001H35XublbiTKtrV','msg_240a322310017qE8cxPkPxHT21','ses_dbf5cde30ffeqaaWA4vqzZpm4k',1796380763864,1796380763869,'{"type":"text","text":"clean the build folder"}');
INSERT INTO "part" VALUES('prt_240a32adf001T3618im6XhuLaD','msg_240a326f3001qgd4pjxe8sun46','ses_dbf5cde30ffeqaaWA4vqzZpm4k',1796380764896,1796380764898,'{"type":"step-start"}');
INSERT INTO "part" VALUES('prt_240a32ae4001fbDhjPK4AtvOb5','msg_240a326f3001qgd4pjxe8sun46','ses_dbf5cde30ffeqaaWA4vqzZpm4k',1796380764900,1796380764935,'{"type":"text","text":"Let me run it:","time":{"start":1796380764900,"end":1796380764933}}');
INSERT INTO "part" VALUES('prt_240a32aea001c8NWzpKpUbOr4U','msg_240a326f3001qgd4pjxe8sun46','ses_dbf5cde30ffeqaaWA4vqzZpm4k',1796380764906,1796380771082,'{"type":"tool","tool":"bash","callID":"call_1","state":{"status":"error","input":{"command":"rm -rf build","description":"scripted"},"error":"The user rejected permission to use this specific tool call.","time":{"start":1796380764922,"end":1796380771078}}}');
INSERT INTO "part" VALUES('prt_240a34310001tcl2KbJCfGrwmU','msg_240a326f3001qgd4pjxe8sun46','ses_dbf5cde30ffeqaaWA4vqzZpm4k',1796380771089,1796380771091,'{"reason":"tool-calls","type":"step-finish","tokens":{"input":0,"output":0,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}');
CREATE TABLE `session` (
          `id` text PRIMARY KEY,
          `project_id` text NOT NULL,
          `workspace_id` text,
          `parent_id` text,
          `slug` text NOT NULL,
          `directory` text NOT NULL,
          `path` text,
          `title` text NOT NULL,
          `version` text NOT NULL,
          `share_url` text,
          `summary_additions` integer,
          `summary_deletions` integer,
          `summary_files` integer,
          `summary_diffs` text,
          `metadata` text,
          `cost` real DEFAULT 0 NOT NULL,
          `tokens_input` integer DEFAULT 0 NOT NULL,
          `tokens_output` integer DEFAULT 0 NOT NULL,
          `tokens_reasoning` integer DEFAULT 0 NOT NULL,
          `tokens_cache_read` integer DEFAULT 0 NOT NULL,
          `tokens_cache_write` integer DEFAULT 0 NOT NULL,
          `revert` text,
          `permission` text,
          `agent` text,
          `model` text,
          `time_created` integer NOT NULL,
          `time_updated` integer NOT NULL,
          `time_compacting` integer,
          `time_archived` integer,
          CONSTRAINT `fk_session_project_id_project_id_fk` FOREIGN KEY (`project_id`) REFERENCES `project`(`id`) ON DELETE CASCADE
        );
INSERT INTO "session" VALUES('ses_dbf5cde30ffeqaaWA4vqzZpm4k','global',NULL,NULL,'brave-forest','/tmp/tmpnwwc07d4/acme-api','tmp/tmpnwwc07d4/acme-api','Run the scripted command','1.18.33',NULL,0,0,0,NULL,NULL,0.0,0,0,0,0,0,NULL,NULL,'build','{"id":"m","providerID":"scripted","variant":"default"}',1796380762575,1796380771114,NULL,NULL);
