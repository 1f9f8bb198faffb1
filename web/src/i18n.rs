//! Every word the page shows, in English and Chinese.
//!
//! Fixed labels are one table ([`T`]), so a missing translation is a compile error, not a blank.
//! Sentences with values in them (why a vote changed, what an event was) are functions in
//! `describe`, which take the [`Lang`] too. ZooKeeper's own words — LOOKING, zxid, recvset,
//! PROPOSAL — stay as they are in both languages: they are what the docs use.

use std::cell::Cell;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

thread_local! {
    /// The language of the page, for the panic overlay (which runs outside the component).
    static CURRENT: Cell<Lang> = const { Cell::new(Lang::En) };
}

impl Lang {
    pub fn t(self, t: T) -> &'static str {
        match self {
            Lang::En => t.en(),
            Lang::Zh => t.zh(),
        }
    }

    /// Picks one of two texts written in place (for sentences `describe` builds).
    pub fn pick<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }

    /// The `lang` attribute of the document.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        let code = code.to_ascii_lowercase();
        if code.starts_with("zh") {
            Some(Lang::Zh)
        } else if code.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    pub fn set_current(self) {
        CURRENT.with(|c| c.set(self));
    }

    pub fn current() -> Lang {
        CURRENT.with(Cell::get)
    }
}

macro_rules! texts {
    ($($name:ident => $en:literal, $zh:literal;)*) => {
        /// A fixed label of the page.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum T { $($name),* }

        impl T {
            pub fn en(self) -> &'static str {
                match self { $(T::$name => $en),* }
            }
            pub fn zh(self) -> &'static str {
                match self { $(T::$name => $zh),* }
            }
        }
    };
}

texts! {
    Title => "ZooKeeper playground", "ZooKeeper 演练场";
    Subtitle => "The real zk-rs core, simulated in your browser: elections, Zab, and zkCli.",
        "真实的 zk-rs 内核在浏览器里模拟运行：选举、Zab 和 zkCli。";
    Language => "Language", "语言";
    CopyLink => "Copy link", "复制链接";
    Copied => "Link copied", "链接已复制";
    LinkHint => "The address bar holds this run (seed and every action): share it to replay it exactly.",
        "地址栏里就是这次运行（种子和每一个操作）：分享出去，对方能原样重放。";
    InvariantsOk => "invariants hold", "不变量成立";
    InvariantsBroken => "invariant violated", "不变量被破坏";

    // Time controls.
    Play => "Play", "播放";
    Pause => "Pause", "暂停";
    Step => "Step", "单步";
    StepHint => "Handle exactly one event", "只处理一个事件";
    Speed => "Speed", "速度";
    Time => "Time", "时间";
    Timeline => "Timeline", "时间轴";
    Events => "events", "个事件";
    AheadHint => "recorded actions ahead replay as time moves on; acting now starts a new branch and forgets them.",
        "个已录制的后续操作会随时间推进重放；此刻再操作会开出新分支，丢弃它们。";

    // Cluster.
    Ensemble => "Ensemble", "集群";
    ClusterHint => "Click a server to inspect its votes; click a message to see its fields (the run pauses) and drop it.",
        "点服务器查看它的投票；点消息查看字段（运行会暂停），还可以丢弃它。";
    Up => "up", "运行中";
    Down => "down", "已停止";
    Paused => "paused", "已暂停";
    CutOff => "cut off", "被隔离";
    Observer => "observer", "observer";
    Server => "server", "服务器";
    Vote => "vote", "投票";
    LastZxid => "last zxid", "最后 zxid";
    Committed => "committed", "已提交";
    Epochs => "acceptedEpoch / currentEpoch", "acceptedEpoch / currentEpoch";
    Sessions => "sessions", "会话数";
    Serving => "serving clients", "对外服务";
    NotServing => "not serving", "未对外服务";
    Held => "held back", "被扣留";
    Start => "Start", "启动";
    Kill => "Kill", "杀死";
    Restart => "Restart", "重启";
    PauseServer => "Pause", "暂停";
    Resume => "Resume", "恢复";
    RestartHint => "Kill, then start again from what its disk kept", "杀死后从磁盘保存的内容重新启动";
    PauseHint => "Freeze the process (a long GC pause)", "冻结进程（如长时间 GC 停顿）";
    OpenConsoleHere => "Console", "控制台";
    ShowTree => "Tree", "数据树";
    ShowVotes => "Votes", "投票";
    Legend => "Message kinds", "消息类型";

    // Message details.
    From => "from", "发送方";
    To => "to", "接收方";
    SentAt => "sent at", "发送时间";
    ArrivesAt => "arrives at", "到达时间";
    DropMessage => "Drop this message", "丢弃这条消息";
    DropHint => "An election message just vanishes; a quorum message breaks its TCP connection.",
        "选举消息直接消失；quorum 消息会让它所在的 TCP 连接断开。";
    Gone => "no longer in flight (delivered or dropped)", "已不在途中（已送达或已丢弃）";
    Close => "Close", "关闭";

    // Vote panel.
    VotePanel => "Votes (FastLeaderElection)", "投票（FastLeaderElection）";
    CurrentVote => "current vote", "当前投票";
    LastChange => "why the vote last changed", "投票最近一次改变的原因";
    NoChange => "no vote yet", "尚未投票";
    Recvset => "recvset (votes received this round)", "recvset（本轮收到的投票）";
    OutOfElection => "outofelection (servers already FOLLOWING or LEADING)",
        "outofelection（已处于 FOLLOWING 或 LEADING 的服务器）";
    Agrees => "agrees", "一致";
    VoteHistory => "vote changes", "投票变化记录";
    RulesHint => "Votes compare by peerEpoch, then zxid, then server id: the larger wins.",
        "投票依次比较 peerEpoch、zxid、服务器 id：大者胜出。";
    Empty => "(empty)", "（空）";
    ServerDown => "This server is down: it holds no election state.", "该服务器已停止，没有选举状态。";

    // Console.
    ConsolePanel => "zkCli console", "zkCli 控制台";
    OpenConsole => "Open console on", "打开控制台，连接到";
    NoConsole => "No console yet: open one on a server and type zkCli commands (try `create /a x`).",
        "还没有控制台：在某台服务器上打开一个，输入 zkCli 命令（试试 `create /a x`）。";
    ConsoleHint => "Enter runs a line, ↑/↓ walk the history. Watch the write's PROPOSAL → ACK → COMMIT on the ensemble.",
        "回车执行，↑/↓ 翻历史。写操作的 PROPOSAL → ACK → COMMIT 会在集群图上出现。";
    Waiting => "waiting for the server…", "等待服务器回应……";
    Examples => "examples", "示例";
    ConsoleClosed => "This console has quit.", "该控制台已退出。";

    // Tree.
    TreePanel => "Data tree", "数据树";
    TreeOf => "tree of", "查看服务器";
    CompareLeader => "compare with the leader", "与 leader 对比";
    NoTree => "This server is down: no tree in memory.", "该服务器已停止，内存中没有数据树。";
    Differs => "differs from the leader", "与 leader 不一致";
    Missing => "missing here", "本服务器缺少";
    Watches => "watches", "watch 数";
    EphemeralOwner => "ephemeralOwner", "ephemeralOwner";
    Ephemeral => "ephemeral", "临时节点";
    MoreRows => "more nodes not shown", "个节点未显示";
    TreeHint => "Click a node for its stat. Highlighted rows differ from the leader (a lagging server).",
        "点节点查看 stat。高亮的行与 leader 不一致（落后的服务器）。";

    // Faults.
    FaultsPanel => "Faults and network", "故障与网络";
    Partition => "Partition", "网络分区";
    PartitionHint => "Click a server to move it to group A, B or C, then apply.",
        "点击服务器把它分到 A、B、C 组，然后应用。";
    ApplyPartition => "Apply partition", "应用分区";
    IsolateLeader => "Isolate the leader", "隔离 leader";
    Split => "Split", "拆分";
    Heal => "Heal", "恢复网络";
    OneWayCut => "One-way cut", "单向断开";
    Cut => "Cut", "断开";
    NetworkLatency => "Network latency", "网络延迟";
    DiskLatency => "Disk latency", "磁盘延迟";
    WriteLoad => "Write load", "写入负载";
    Clients => "clients", "个客户端";
    StartLoad => "Start write load", "开始写入负载";
    StopLoad => "Stop write load", "停止写入负载";
    LoadRunning => "writing clients", "个客户端在写入";
    NoLeader => "There is no leader right now.", "当前没有 leader。";

    // Setup.
    SetupPanel => "New run", "新的运行";
    Voters => "voters", "投票成员";
    Observers => "observers", "observer";
    Seed => "seed", "种子";
    RandomSeed => "Random", "随机";
    Autostart => "start every server at once", "立即启动所有服务器";
    StartRun => "Start new run", "开始新的运行";
    SetupHint => "Servers are added or removed before a run starts; a new run replaces this one.",
        "服务器只能在运行开始前增减；新的运行会替换当前这一次。";

    // Log.
    LogPanel => "Event log", "事件日志";
    AllServers => "all servers", "所有服务器";
    AllKinds => "all kinds", "所有类型";
    KindMessages => "messages", "消息";
    KindElection => "election", "选举";
    KindZab => "Zab (epochs, sync, proposals)", "Zab（epoch、同步、提案）";
    KindDisk => "disk", "磁盘";
    KindClient => "clients", "客户端";
    KindFault => "faults and processes", "故障与进程";
    KindViolation => "violations", "违规";
    MessageKind => "message kind", "消息类型";
    NoEvents => "No events match.", "没有匹配的事件。";

    // Tutorials.
    Tutorials => "Tutorials", "教程";
    TutorialsHint => "The documents' scenarios, played on this page: each loads its own cluster and runs step by step, with the outcome the document states checked as it happens.",
        "文档中的场景，在本页上演示：每个教程载入自己的集群，一步一步运行，并在过程中检查文档所述的结果。";
    TutorialsError => "The tutorials could not be read:", "无法读取教程：";
    RealToo => "also on real servers", "也在真实服务器上验证";
    Source => "retells", "出处";
    Note => "Where the document simplifies", "文档简化之处";
    About => "What this tutorial shows", "本教程演示的内容";
    AllTutorials => "All tutorials", "全部教程";
    BackToTutorial => "Back to the tutorial", "回到当前教程";
    Next => "Next", "下一步";
    Back => "Back", "上一步";
    BackHint => "Go back to where the previous step began and play it again", "回到上一步开始的时刻，重新演示";
    AutoPlay => "Auto-play", "自动播放";
    AutoHint => "Go on by itself when a step's checks pass, after a pause for reading", "每步检查通过后，稍作停顿供阅读，然后自动继续";
    PlayFreely => "Play freely", "自由操作";
    PlayFreelyHint => "Leave the script: the run goes on as an ordinary playground run", "离开脚本：这次运行作为普通的演练继续";
    IntroHint => "Nothing runs until a step starts it: press Next to begin.", "在某一步启动之前什么都不会运行：按“下一步”开始。";
    Does => "does", "操作";
    Checks => "checks", "检查";
    Seen => "seen", "实际";
    NotYet => "not yet", "尚未满足";
    Focus => "in focus", "关注";
    StepWaiting => "Running: waiting for the checks…", "运行中：等待检查通过……";
    StepPassed => "All checks passed. Time is paused here, so that the next step's checks of what happens “during this step” start at the right moment. Next continues.",
        "所有检查已通过。时间暂停在这里，使下一步“在本步骤中”的检查从正确的时刻开始。按“下一步”继续。";
    StepLate => "Not met in time: the red checks say what was seen instead. Time goes on; they turn green if they come to hold.",
        "未能按时满足：红色的检查项给出了实际情况。时间继续运行；一旦满足会变绿。";
    TutorialDone => "Tutorial complete: every step's checks passed. Play freely from here, or pick another tutorial.",
        "教程完成：每一步的检查都已通过。可以从这里自由操作，或选择另一个教程。";

    // Errors and the panic overlay.
    BadUrl => "The run in the address could not be read, so a new one started:", "地址里的运行记录无法读取，已开始新的运行：";
    LongRun => "This run has recorded a million events, so time was paused to spare the tab's memory: move the timeline back, or start a new run.",
        "这次运行已记录一百万个事件，为节省标签页内存已暂停：可以把时间轴拖回去，或开始新的运行。";
    PanicTitle => "The playground crashed", "演练场崩溃了";
    PanicHint => "This is a bug. The address still holds the run, so it can be reloaded and reported.",
        "这是一个 bug。地址栏仍保存着这次运行，可以重新加载并报告。";
    PanicReset => "Reset (new run)", "重置（新的运行）";
    PanicReload => "Reload this run", "重新加载这次运行";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for l in [Lang::En, Lang::Zh] {
            assert_eq!(Lang::from_code(l.code()), Some(l));
        }
        assert_eq!(Lang::from_code("zh-TW"), Some(Lang::Zh));
        assert_eq!(Lang::from_code("fr"), None);
    }

    #[test]
    fn both_languages_differ_where_they_should() {
        assert_ne!(Lang::En.t(T::Play), Lang::Zh.t(T::Play));
        // ZooKeeper's words stay.
        assert_eq!(Lang::Zh.t(T::Observer), "observer");
    }
}
