namespace EdgeSelector.Storage.Tests;

/// <summary>Entry point used only when the crash test runs this assembly as a child process.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == ImpressionLogCrashHelper.Verb)
        {
            return ImpressionLogCrashHelper.Run(args[1]);
        }

        if (args.Length == 3 && args[0] == ImpressionLogCrashHelper.Verb && args[2] == ImpressionLogCrashHelper.PostMode)
        {
            return ImpressionLogCrashHelper.RunPosting(args[1]);
        }

        if (args.Length == 2 && args[0] == ProfileCheckpointCrashHelper.Verb)
        {
            return ProfileCheckpointCrashHelper.Run(args[1]);
        }

        Console.Error.WriteLine("This is a test assembly; run it with dotnet test.");
        return 2;
    }
}
