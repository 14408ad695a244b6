using System.CommandLine;
using Reconciler.State;

namespace Reconciler.Cli;

/// <summary>
/// The options most commands share (docs/cli.md, "Options most commands share"): <c>--repo</c>, <c>--rev</c>,
/// <c>--env</c>, <c>--state</c> and <c>--format</c>, each defined once here (name, default, accepted values, checks)
/// and read into <see cref="CommonArgs"/>. A command adds the ones it takes, in the order its help lists them, with
/// its own description where the option means something more specific there (`status` reads HEAD of --repo, `run`
/// also takes a URL).
/// </summary>
internal sealed class CommonOptions(Command command)
{
    public const string DefaultEnvDescription = "Environment name (as in environments/*.yaml).";

    public const string DefaultStateDescription =
        "State store URL (sqlite:PATH or consul://HOST:PORT/PREFIX). Default: RECONCILER_STATE, else `state:` of reconciler.yaml, else sqlite:.reconciler/state.db.";

    public const string DefaultFormatDescription = "Output format: text or json.";

    private Option<string>? _repo;
    private Option<string?>? _rev;
    private Option<string?>? _env;
    private bool _envRequired;
    private Option<string?>? _state;
    private Option<string>? _format;

    /// <summary>--repo DIR, default ".".</summary>
    public Option<string> AddRepo(string description) =>
        Add(_repo = new Option<string>("--repo") { Description = description, DefaultValueFactory = _ => "." });

    /// <summary>--rev REV: read that commit from Git objects instead of the files on disk.</summary>
    public Option<string?> AddRev(string description) => Add(_rev = new Option<string?>("--rev") { Description = description });

    /// <summary>--env ENV. Required where the command works on one environment's live state (the name keys the store
    /// and is checked); optional where the repo's only environment is the default.</summary>
    public Option<string?> AddEnv(bool required, string description = DefaultEnvDescription)
    {
        _envRequired = required;
        return Add(_env = new Option<string?>("--env") { Description = description, Required = required });
    }

    /// <summary>--state URL; resolution: StateStores.Locate (--state, $RECONCILER_STATE, <c>state:</c>, the default file).</summary>
    public Option<string?> AddState(string description = DefaultStateDescription) => Add(_state = new Option<string?>("--state") { Description = description });

    /// <summary>--format, default "text", one of <paramref name="accepted"/> (default: text, json).</summary>
    public Option<string> AddFormat(string description = DefaultFormatDescription, params string[] accepted)
    {
        var format = new Option<string>("--format") { Description = description, DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong(accepted.Length > 0 ? accepted : ["text", "json"]);
        return Add(_format = format);
    }

    /// <summary>The values of the options this command took (defaults for the others); a required environment's name
    /// is checked here, before anything else runs.</summary>
    public CommonArgs Read(ParseResult parse)
    {
        var env = _env is null ? null : parse.GetValue(_env);
        if (_envRequired && env is not null) StateNames.Check("environment", env);
        return new CommonArgs(
            _repo is null ? "." : parse.GetValue(_repo)!,
            _rev is null ? null : parse.GetValue(_rev),
            env,
            _state is null ? null : parse.GetValue(_state),
            _format is null ? "text" : parse.GetValue(_format)!);
    }

    private T Add<T>(T option) where T : Option
    {
        command.Options.Add(option);
        return option;
    }
}

/// <summary>The shared options' values (<see cref="CommonOptions"/>).</summary>
/// <param name="Env">Null only where --env is optional and was not given.</param>
/// <param name="State">--state; null: not given.</param>
internal sealed record CommonArgs(string Repo, string? Rev, string? Env, string? State, string Format)
{
    public bool Json => Format == "json";

    /// <summary>The environment of a command that requires --env.</summary>
    public string Environment => Env ?? throw new InvalidOperationException("--env is required by this command");
}
