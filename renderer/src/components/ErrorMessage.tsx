/** An engine error shown where it happened, as the engine worded it. */
export function ErrorMessage({ message, onDismiss }: { message?: string; onDismiss?: () => void }) {
  if (!message) return null;
  return (
    <div className="error" role="alert">
      <span className="error-icon" aria-hidden="true">!</span>
      <span className="error-text">{message}</span>
      {onDismiss && <button type="button" className="link" onClick={onDismiss}>Dismiss</button>}
    </div>
  );
}
