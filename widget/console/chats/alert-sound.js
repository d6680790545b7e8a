// The chats view's alert sound (a customer new in the queue, a chat transferred
// here) and the button that mutes it; muting is remembered in this browser.

import { h, replaceChildren } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { STORAGE } from "../constants.js";

export class AlertSound {
  /** @param sound the page's one SoundOutput (console.js): it plays only after the agent's first click. */
  constructor(sound) {
    this.sound = sound;
    this.muted = localStorage.getItem(STORAGE.muted) === "1";
    this.button = h("button", { type: "button", class: "icon-button", onclick: () => this.toggleMute() });
    this.renderMute();
  }

  chime() {
    const context = this.muted ? null : this.sound.ready();
    if (!context) return;
    const start = context.currentTime;
    // Two short rising notes: noticeable, not alarming.
    [660, 880].forEach((frequency, index) => {
      const at = start + index * 0.16;
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.3);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.32);
    });
  }

  toggleMute() {
    this.muted = !this.muted;
    localStorage.setItem(STORAGE.muted, this.muted ? "1" : "0");
    this.renderMute();
  }

  renderMute() {
    replaceChildren(this.button, icon(this.muted ? "bellOff" : "bell"));
    this.button.setAttribute("aria-pressed", String(this.muted));
    this.button.setAttribute("aria-label", "Mute alert sound");
    this.button.title = this.muted ? "Alert sound is muted" : "Alert sound is on";
  }
}
