// What every view of the console shares (console.js creates them): the navigation
// shows and hides it, a log-out asks it first, the session's end destroys it.

export class View {
  show() {
    this.element.hidden = false;
  }

  hide() {
    this.element.hidden = true;
  }

  /** Releases what the view holds (sockets, timers) when the session ends; a view that holds none has nothing to do. */
  destroy() {}

  /** Whether the session may end now; a view with unfinished work asks the person. */
  async confirmLeave() {
    return true;
  }
}
