using System.CommandLine;
using System.Globalization;
using Reconciler.UseCases;
using Reconciler.Views;

namespace Reconciler.Cli;

/// <summary><c>reconciler state show|history|lock|unlock|freeze|unfreeze|unquarantine --env ENV</c>: read and manage live state. docs/cli/state.md.</summary>
internal static class StateCommand
{
    private const string StateDescription =
        "State store: sqlite:PATH, consul://HOST:PORT/PREFIX, consuls://... (TLS). Default: $RECONCILER_STATE, else state: in reconciler.yaml, else sqlite:.reconciler/state.db in the repo.";

    public static Command Build()
    {
        var cmd = new Command("state", "Show live state and history; lock, unlock, freeze or unfreeze an environment.");
        cmd.Subcommands.Add(Show());
        cmd.Subcommands.Add(History());
        cmd.Subcommands.Add(Lock());
        cmd.Subcommands.Add(Unlock());
        cmd.Subcommands.Add(Freeze());
        cmd.Subcommands.Add(Unfreeze());
        cmd.Subcommands.Add(Unquarantine());
        return cmd;
    }

    /// <summary>A subcommand with the options every state subcommand takes, and its action: the use case on the
    /// environment the options name, rendered by <paramref name="render"/> (text or JSON).</summary>
    private static Command Subcommand<T>(string name, string description, Action<Command> addOptions,
        Func<StateOperations, StateTarget, ParseResult, CancellationToken, Task<UseCaseResult<T>>> operation,
        Func<T, bool, string> render) where T : class
    {
        var c = new Command(name, description);
        var common = new CommonOptions(c);
        common.AddEnv(required: true);
        common.AddState(StateDescription);
        common.AddRepo("Repository root (where the default SQLite store lives).");
        common.AddFormat();
        addOptions(c);
        c.SetAction((p, ct) => CliRunner.RunAsync(p.InvocationConfiguration.Error, async () =>
        {
            var args = common.Read(p);
            var result = await operation(new StateOperations(TimeProvider.System), new StateTarget(args.Repo, args.Environment, args.State), p, ct);
            if (!result.Succeeded) return await CliRunner.FailAsync(p.InvocationConfiguration.Error, result);
            await p.InvocationConfiguration.Output.WriteAsync(render(result.Value, args.Json));
            return null;
        }));
        return c;
    }

    private static Command Show() => Subcommand("show", "Show an environment's live state: version, services, toggles, lock, freeze, quarantined commits.",
        _ => { }, (state, target, _, ct) => state.ShowAsync(target, ct), StateView.RenderShow);

    private static Command History()
    {
        var limit = new Option<int>("--limit") { Description = "How many entries to show.", DefaultValueFactory = _ => 20 };
        return Subcommand("history", "Show an environment's deploy history, newest first.", c => c.Options.Add(limit),
            (state, target, p, ct) => state.HistoryAsync(target, p.GetValue(limit), ct), StatusView.RenderHistory);
    }

    private static Command Lock()
    {
        var reason = new Option<string>("--reason") { Description = "Why (shown to anyone who hits the lock).", Required = true };
        var ttl = new Option<string>("--ttl") { Description = "How long the lock lasts unless renewed: e.g. 90s, 30m, 2h (at most 24h).", DefaultValueFactory = _ => "1h" };
        var owner = new Option<string?>("--owner") { Description = "Who holds the lock. Default: USER@HOST." };
        return Subcommand("lock", "Lock an environment so that no other apply runs there until it is unlocked or the TTL runs out.",
            c => { c.Options.Add(reason); c.Options.Add(ttl); c.Options.Add(owner); },
            (state, target, p, ct) =>
            {
                var span = ParseTtl(p.GetValue(ttl)!);
                return state.LockAsync(target, p.GetValue(owner) ?? DefaultOwner(), p.GetValue(reason)!, span, ct);
            },
            StateView.RenderLock);
    }

    private static Command Unlock()
    {
        var owner = new Option<string?>("--owner") { Description = "Whose lock to release. Default: USER@HOST." };
        var force = new Option<bool>("--force") { Description = "Release the lock whoever holds it." };
        return Subcommand("unlock", "Release an environment's lock (yours, or anyone's with --force).",
            c => { c.Options.Add(owner); c.Options.Add(force); },
            (state, target, p, ct) => state.UnlockAsync(target, p.GetValue(owner) ?? DefaultOwner(), p.GetValue(force), ct),
            StateView.RenderUnlock);
    }

    private static Command Freeze()
    {
        var reason = new Option<string>("--reason") { Description = "Why (shown to anyone whose apply is refused).", Required = true };
        var by = new Option<string?>("--by") { Description = "Who froze it. Default: USER@HOST." };
        return Subcommand("freeze", "Freeze an environment: applies are refused until it is unfrozen.",
            c => { c.Options.Add(reason); c.Options.Add(by); },
            (state, target, p, ct) => state.FreezeAsync(target, p.GetValue(reason)!, p.GetValue(by) ?? DefaultOwner(), ct),
            StateView.RenderFreeze);
    }

    private static Command Unquarantine()
    {
        var commit = new Argument<string>("SHA") { Description = "The quarantined commit (full SHA or an unambiguous prefix)." };
        var reason = new Option<string>("--reason") { Description = "Why it may be applied again (recorded in history).", Required = true };
        var by = new Option<string?>("--by") { Description = "Who lifts it. Default: USER@HOST." };
        return Subcommand("unquarantine", "Lift a commit's quarantine so apply and run try it again (recorded in history).",
            c => { c.Arguments.Add(commit); c.Options.Add(reason); c.Options.Add(by); },
            (state, target, p, ct) => state.UnquarantineAsync(target, p.GetValue(commit)!, p.GetValue(reason)!, p.GetValue(by) ?? DefaultOwner(), ct),
            StateView.RenderUnquarantine);
    }

    private static Command Unfreeze() => Subcommand("unfreeze", "Lift an environment's freeze.",
        _ => { }, (state, target, _, ct) => state.UnfreezeAsync(target, ct), StateView.RenderUnfreeze);

    internal static TimeSpan ParseTtl(string text)
    {
        var t = text.Trim();
        if (t.Length >= 2 && long.TryParse(t[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            TimeSpan? span = t[^1] switch
            {
                's' => TimeSpan.FromSeconds(n), 'm' => TimeSpan.FromMinutes(n), 'h' => TimeSpan.FromHours(n), 'd' => TimeSpan.FromDays(n), _ => null,
            };
            if (span is { } s && s <= TimeSpan.FromHours(24)) return s;
            if (span is not null) throw new UserError($"--ttl {text} is longer than 24h; lock for at most 24h and renew (Consul sessions last at most 24h).");
        }
        throw new UserError($"--ttl '{text}' is not a duration: use a positive number with s, m or h, e.g. 90s, 30m, 2h.");
    }

    internal static string DefaultOwner() => $"{Environment.UserName}@{Environment.MachineName}";
}
