using System.CommandLine;
using Reconciler.UseCases;

namespace Reconciler.Cli;

/// <summary>--ssh-key, --trust-unknown-host-keys and --host-timeout of the commands that ask the hosts (`status`, `drift`).</summary>
internal sealed class HostAccessOptions
{
    private readonly Option<string?> _sshKey = new("--ssh-key") { Description = "Private key for the ssh driver. Default: $RECONCILER_SSH_KEY, else ~/.ssh/id_ed25519." };
    private readonly Option<bool> _trust = new("--trust-unknown-host-keys") { Description = "Accept SSH hosts without a pinned hostKey (each is named in a warning). Without it they are refused (shown unreachable)." };
    private readonly Option<double> _timeout = new("--host-timeout") { Description = "Seconds one host may take to answer before it is shown unreachable.", DefaultValueFactory = _ => 5 };

    public HostAccessOptions(Command command)
    {
        foreach (var o in new Option[] { _sshKey, _trust, _timeout }) command.Options.Add(o);
    }

    public HostAccess Read(ParseResult parse, TextWriter warnings)
    {
        var seconds = parse.GetValue(_timeout);
        if (!(seconds > 0 && seconds <= 3600)) throw new UserError("--host-timeout must be a number of seconds between 0 and 3600, e.g. --host-timeout 5.");
        return new HostAccess(parse.GetValue(_sshKey), parse.GetValue(_trust), warnings, TimeSpan.FromSeconds(seconds));
    }
}
