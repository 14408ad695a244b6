using System.CommandLine;
using Reconciler.Cli;
using Xunit;

namespace Reconciler.Cli.Tests.Cli;

/// <summary>The shared options (CommonOptions) mean the same in every command: same defaults and accepted values
/// (docs/cli.md, "Options most commands share").</summary>
public sealed class CommonOptionsTests
{
    private static IEnumerable<Command> AllCommands(Command command) =>
        command.Subcommands.SelectMany(AllCommands).Prepend(command);

    private static IEnumerable<(string Command, Option Option)> Options(string name) =>
        AllCommands(CliApp.BuildRoot()).SelectMany(c => c.Options.Where(o => o.Name == name).Select(o => (c.Name, o)));

    [Fact]
    public void Repo_defaults_to_the_current_directory_everywhere()
    {
        string[] expected = ["validate", "plan", "apply", "status", "drift", "history", "toggles", "run", "revert", "show", "history", "lock", "unlock", "freeze", "unfreeze", "unquarantine"];
        Assert.Equal(expected.Order(StringComparer.Ordinal), Options("--repo").Select(x => x.Command).Order(StringComparer.Ordinal));
        foreach (var (command, option) in Options("--repo"))
            Assert.True(option is Option<string> { HasDefaultValue: true } repo && (string?)repo.GetDefaultValue() == ".", command);
    }

    [Fact]
    public void Env_is_required_where_it_names_live_state_and_optional_where_the_only_environment_is_the_default()
    {
        // toggles lists every environment unless told one
        foreach (var (command, option) in Options("--env"))
            Assert.Equal(command is not ("plan" or "apply" or "toggles"), option.Required);
    }

    [Theory]
    [InlineData("validate")]
    [InlineData("status", "--env", "e")]
    [InlineData("drift", "--env", "e")]
    [InlineData("history", "--env", "e")]
    [InlineData("toggles")]
    [InlineData("state", "show", "--env", "e")]
    public void Format_is_text_or_json_and_text_by_default(params string[] command)
    {
        var parse = CliApp.BuildRoot().Parse(command);
        Assert.Equal("text", parse.GetValue(parse.CommandResult.Command.Options.OfType<Option<string>>().Single(o => o.Name == "--format")));
        Assert.Empty(CliApp.BuildRoot().Parse([.. command, "--format", "json"]).Errors);
        Assert.NotEmpty(CliApp.BuildRoot().Parse([.. command, "--format", "markdown"]).Errors);
    }

    [Fact]
    public void Every_command_with_a_state_option_takes_a_url_and_has_no_default()
    {
        var states = Options("--state").ToList();
        Assert.Equal(14, states.Count);   // plan, apply, status, drift, history, toggles, run and the seven state subcommands
        foreach (var (command, option) in states)
            Assert.True(option is Option<string?> { HasDefaultValue: false }, command);
    }
}
